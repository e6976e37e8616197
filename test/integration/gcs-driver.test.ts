// The GCS driver on fake-gcs-server beyond the conformance suite: chunked uploads, cancel, pagination, bad input.
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isPgStashError, type PgStashError } from '../../src/common/errors.js';
import { openGcsStorage, type GcsDriver } from '../../src/storage/gcs.js';
import {
  gcsServerAvailable,
  startGcsServer,
  writeServiceAccountKey,
  type GcsTestServer,
} from '../harness/gcs-server.js';
import { runPgstash } from '../harness/pgstash.js';
import { freePort } from '../harness/ports.js';
import { createTempDir, removeTempDir } from '../harness/tmp.js';
import { abortedWrite } from '../harness/aborted-write.js';
import { rejectionOf } from '../harness/errors.js';

const MiB = 1024 * 1024;

describe.skipIf(!gcsServerAvailable())('gcs driver on fake-gcs-server', () => {
  let server: GcsTestServer;
  let bucket: string;
  let dir: string;
  let count = 0;
  /** A fresh repository root (prefix) in the bucket. */
  const driver = (overrides = {}, tuning?: { listPageSize?: number }): GcsDriver =>
    openGcsStorage(server.repoOptions(bucket, { path: `/t${++count}`, ...overrides }), tuning);

  beforeAll(async () => {
    server = await startGcsServer();
    bucket = await server.createBucket('gcs-driver');
    dir = await createTempDir({ owner: 'root', label: 'gcs-driver' });
  });

  afterAll(async () => {
    await removeTempDir(dir);
    await server?.stop();
  });

  it('uploads a file larger than a chunk in a resumable session, holding at most two chunks in memory', async () => {
    const gcs = driver();
    expect(gcs.capabilities.parts).toMatchObject({ size: 5 * MiB, inFlight: 1 });
    // 48 MiB from one reused 1 MiB buffer: the driver must copy (the caller may reuse a chunk once it is
    // accepted) and must not keep more than the chunk filling and the one being sent.
    const chunk = randomBytes(MiB);
    const total = 48;
    const expected = createHash('sha256');
    for (let i = 0; i < total; i++) expected.update(chunk);
    const before = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }, 5);
    async function* source() {
      for (let i = 0; i < total; i++) {
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
        yield chunk;
      }
    }
    try {
      await pipeline(Readable.from(source()), await gcs.openWrite('big'));
    } finally {
      clearInterval(sampler);
    }
    // The bound is 2 x 5 MiB of chunks (reused); a whole-file buffer would take 48 MiB.
    expect(peak).toBeLessThan(20 * MiB);
    const back = createHash('sha256');
    for await (const piece of (await gcs.openRead('big')) as Readable) back.update(piece as Buffer);
    expect(back.digest('hex')).toBe(expected.digest('hex'));
    expect((await gcs.info('big'))?.size).toBe(total * MiB);
    // A range across a chunk boundary of the upload.
    const range = await gcs.read('big', { offset: 5 * MiB - 10, limit: 20 });
    expect(range).toEqual(Buffer.concat([chunk.subarray(MiB - 10), chunk.subarray(0, 10)]));
  });

  it('refuses a second create of a large file with ifAbsent, keeping the first whole', async () => {
    const gcs = driver();
    const first = randomBytes(11 * MiB);
    await pipeline(Readable.from([first]), await gcs.openWrite('claimed', { ifAbsent: true }));
    const error = await rejectionOf(
      pipeline(Readable.from([randomBytes(11 * MiB)]), await gcs.openWrite('claimed', { ifAbsent: true })),
    );
    expect(isPgStashError(error, 'fileExists')).toBe(true);
    expect(error.message).toBe(`unable to create 'gs://${bucket}/t${count}/claimed': it exists already`);
    expect((await gcs.read('claimed'))?.equals(first)).toBe(true);
  });

  it('cancels the upload session of a destroyed write: no object', async () => {
    const gcs = driver();
    await abortedWrite(gcs, 'aborted');
    expect(await gcs.info('aborted')).toBeUndefined();
    expect(await server.objectNames(bucket, `t${count}/`)).toEqual([]);
  });

  it('lists page by page, each entry once, and removes a tree', async () => {
    // Pages of 7: fake-gcs-server, like GCS, may give a prefix on more than one page.
    const gcs = driver({}, { listPageSize: 7 });
    const files = Array.from({ length: 30 }, (_, index) => `f${String(index).padStart(2, '0')}`);
    const folders = ['d1', 'd2', 'd3'];
    await Promise.all(
      [...files, ...folders.map((folder) => `${folder}/x`), 'd1/deeper/y'].map(async (name) =>
        pipeline(Readable.from([Buffer.from(name)]), await gcs.openWrite(`many/${name}`)),
      ),
    );
    const listed: string[] = [];
    for await (const entry of gcs.list('many')) listed.push(`${entry.type}:${entry.name}`);
    expect(listed.sort()).toEqual([
      ...files.map((file) => `file:${file}`),
      ...folders.map((folder) => `path:${folder}`),
    ]);
    await gcs.removeTree('many');
    expect(await server.objectNames(bucket, `t${count}/`)).toEqual([]);
  });

  it('fails with pathMissing naming the bucket when the bucket does not exist', async () => {
    const gcs = openGcsStorage(server.repoOptions('no-such-bucket', { ioTimeout: 30 }));
    const started = Date.now();
    const listed = await rejectionOf(
      (async () => {
        for await (const _entry of gcs.list('')) void _entry;
      })(),
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(isPgStashError(listed, 'pathMissing')).toBe(true);
    expect(listed.message).toMatch(/^unable to list 'gs:\/\/no-such-bucket\/repo': notFound, HTTP 404/);
    expect(listed.hint).toContain('repo1-gcs-bucket');
    const written = await rejectionOf(
      pipeline(Readable.from([Buffer.from('x')]), await gcs.openWrite('file')),
    );
    expect(isPgStashError(written, 'pathMissing')).toBe(true);
    expect(written.message).toMatch(
      /^unable to write 'gs:\/\/no-such-bucket\/repo\/file': notFound, HTTP 404/,
    );
  });

  it('fails within io-timeout, naming the endpoint, when the endpoint does not answer', async () => {
    const port = await freePort();
    const gcs = openGcsStorage(
      server.repoOptions(bucket, { gcsEndpoint: `http://127.0.0.1:${port}`, ioTimeout: 1 }),
    );
    const started = Date.now();
    const error = await rejectionOf(gcs.info('file'));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(isPgStashError(error, 'service')).toBe(true);
    expect(error.temporary).toBe(true);
    expect(error.message).toMatch(
      new RegExp(
        `^unable to get info for 'gs://${bucket}/repo/file' \\(at http://127\\.0\\.0\\.1:${port}\\): connect ECONNREFUSED`,
      ),
    );
    expect(error.message).not.toContain('\n');
    expect(error.hint).toContain('repo1-gcs-endpoint');
  });

  it('refuses a bad endpoint value, naming the option', () => {
    for (const value of ['http://127.0.0.1:1/path', 'host name', 'ftp://host']) {
      let error: PgStashError | undefined;
      try {
        openGcsStorage(server.repoOptions(bucket, { gcsEndpoint: value }));
      } catch (caught) {
        error = caught as PgStashError;
      }
      expect(isPgStashError(error, 'optionInvalidValue')).toBe(true);
      expect(error?.message).toBe(`'${value}' is not valid for 'repo1-gcs-endpoint' option`);
    }
  });

  it('refuses a missing or malformed service account key file before any request, naming it', async () => {
    const missing = join(dir, 'missing.json');
    const notJson = join(dir, 'not-json.json');
    const notService = join(dir, 'user.json');
    await writeFile(notJson, 'this is not JSON');
    await writeFile(notService, JSON.stringify({ type: 'authorized_user', client_id: 'x' }));
    const badKey = join(dir, 'bad-key.json');
    await writeFile(
      badKey,
      JSON.stringify({
        type: 'service_account',
        client_email: 'a@b.iam.gserviceaccount.com',
        private_key: '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n',
      }),
    );
    const open = (file: string) => () =>
      openGcsStorage(server.repoOptions(bucket, { gcsKeyType: 'service', gcsKey: file }));
    expect(open(missing)).toThrow(`unable to read repo1-gcs-key '${missing}': `);
    for (const file of [notJson, notService]) {
      expect(open(file)).toThrow(`repo1-gcs-key '${file}' is not a service account JSON key file`);
    }
    expect(open(badKey)).toThrow(`repo1-gcs-key '${badKey}' holds no usable private key: `);
  });

  it('signs requests with a service account key file', async () => {
    const key = join(dir, 'service.json');
    await writeServiceAccountKey(key);
    const gcs = driver({ gcsKeyType: 'service', gcsKey: key });
    await pipeline(Readable.from([Buffer.from('signed')]), await gcs.openWrite('file'));
    expect((await gcs.read('file'))?.toString()).toBe('signed');
  });

  describe('CLI', () => {
    /** PGSTASH_* variables of a gcs repo1 in `bucket`. */
    function gcsEnv(overrides: Record<string, string> = {}): Record<string, string> {
      return {
        PGSTASH_REPO1_TYPE: 'gcs',
        PGSTASH_REPO1_PATH: '/cli',
        PGSTASH_REPO1_GCS_BUCKET: bucket,
        PGSTASH_REPO1_GCS_ENDPOINT: server.endpoint,
        PGSTASH_REPO1_GCS_KEY_TYPE: 'token',
        PGSTASH_REPO1_GCS_KEY: 'a-secret-token',
        PGSTASH_LOG_PATH: dir,
        PGSTASH_LOCK_PATH: join(dir, 'lock'),
        ...overrides,
      };
    }

    it('refuses the GCS key on the command line, naming the option', async () => {
      const result = await runPgstash(['info', '--repo1-gcs-key=x'], { env: gcsEnv() });
      expect(result.code).toBe(31);
      expect(result.stderr).toContain("option 'repo1-gcs-key' is not allowed on the command-line");
    });

    it('reports a missing bucket as one line with its exit code, without the token', async () => {
      const result = await runPgstash(['info'], {
        env: gcsEnv({ PGSTASH_REPO1_GCS_BUCKET: 'no-such-bucket' }),
      });
      expect(result.code).toBe(73);
      const lines = result.stderr.split('\n').filter((line) => line.includes('ERROR'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /ERROR: \[073\]: unable to list 'gs:\/\/no-such-bucket\/cli.*': notFound, HTTP 404/,
      );
      expect(result.stderr + result.stdout).not.toContain('a-secret-token');
    });

    it('loads google-auth-library for repo-gcs-key-type=auto only (a key file signs without it)', async () => {
      // A preload that reports, at exit, how many modules of google-auth-library were loaded.
      const hook = join(dir, 'sdk-hook.cjs');
      await writeFile(
        hook,
        "process.on('exit', () => process.stderr.write('auth modules: ' + " +
          "Object.keys(require.cache).filter((path) => path.includes('/google-auth-library/')).length + '\\n'));\n",
      );
      const posixRepo = await createTempDir({ owner: 'root', label: 'gcs-cli-posix' });
      const key = join(dir, 'cli-service.json');
      await writeServiceAccountKey(key);
      const run = (env: Record<string, string>) =>
        runPgstash(['info'], { env: { ...env, NODE_OPTIONS: `--require=${hook}` } });
      try {
        const posix = await run({ PGSTASH_REPO1_PATH: posixRepo, PGSTASH_LOG_PATH: dir });
        expect(posix.code).toBe(0);
        expect(posix.stderr).toContain('auth modules: 0\n');
        for (const env of [
          gcsEnv(),
          gcsEnv({ PGSTASH_REPO1_GCS_KEY_TYPE: 'service', PGSTASH_REPO1_GCS_KEY: key }),
        ]) {
          const result = await run(env);
          expect(result.code).toBe(0);
          expect(result.stderr).toContain('auth modules: 0\n');
        }
        // auto: the application default credentials, here the key file named by GOOGLE_APPLICATION_CREDENTIALS.
        const { PGSTASH_REPO1_GCS_KEY: _unused, ...auto } = gcsEnv({ PGSTASH_REPO1_GCS_KEY_TYPE: 'auto' });
        const result = await run({ ...auto, GOOGLE_APPLICATION_CREDENTIALS: key });
        expect(result.code).toBe(0);
        expect(result.stderr).toMatch(/auth modules: [1-9]/);
      } finally {
        await removeTempDir(posixRepo);
      }
    });
  });
});

describe.skipIf(!gcsServerAvailable())('gcs driver on fake-gcs-server over https', () => {
  let server: GcsTestServer;
  let bucket: string;

  beforeAll(async () => {
    server = await startGcsServer({ tls: true });
    bucket = await server.createBucket('gcs-tls');
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('trusts the server through repo-storage-ca-file', async () => {
    const gcs = openGcsStorage(server.repoOptions(bucket));
    await pipeline(Readable.from([Buffer.from('over tls')]), await gcs.openWrite('file'));
    expect((await gcs.read('file'))?.toString()).toBe('over tls');
  });

  it('refuses the self-signed certificate without repo-storage-ca-file, at once, with a hint', async () => {
    const { storageCaFile: _unused, ...options } = server.repoOptions(bucket, { ioTimeout: 30 });
    const gcs = openGcsStorage(options);
    const started = Date.now();
    const error = await rejectionOf(gcs.info('file'));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(isPgStashError(error, 'service')).toBe(true);
    expect(error.temporary).toBe(false);
    expect(error.message).toMatch(
      new RegExp(
        `^unable to get info for 'gs://${bucket}/repo/file' \\(at https://127\\.0\\.0\\.1:\\d+\\): \\S*CERT`,
      ),
    );
    expect(error.hint).toContain('repo1-storage-ca-file');
    // With verification off (a test server only), the same request goes through.
    expect(await openGcsStorage({ ...options, storageVerifyTls: false }).info('file')).toBeDefined();
  });
});
