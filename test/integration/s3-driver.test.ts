// The S3 driver beyond the conformance suite, on versitygw over TLS: multipart in bounded memory, aborted uploads,
// pagination and batch delete, the one-line errors (bad credentials, missing bucket, untrusted certificate), and
// the CLI: secrets refused on the command line, the SDK loaded only for an s3 repository.
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash, randomBytes } from 'node:crypto';

import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isPgStashError } from '../../src/common/errors.js';
import { openS3Storage, type S3Driver } from '../../src/storage/s3.js';
import { runPgstash } from '../harness/pgstash.js';
import { s3KeysUnder, s3ServerAvailable, startS3Server, type S3TestServer } from '../harness/s3-server.js';
import { writeSdkHook } from '../harness/sdk-hook.js';
import { createTempDir, removeTempDir } from '../harness/tmp.js';
import { abortedWrite } from '../harness/aborted-write.js';
import { rejectionOf } from '../harness/errors.js';

const MiB = 1024 * 1024;

describe.skipIf(!s3ServerAvailable('versitygw'))('s3 driver on versitygw', () => {
  let server: S3TestServer;
  let bucket: string;
  let count = 0;
  /** A fresh repository root (prefix) in the bucket. */
  const driver = (overrides = {}): S3Driver =>
    openS3Storage(server.repoOptions(bucket, { path: `/t${++count}`, ...overrides }));

  beforeAll(async () => {
    server = await startS3Server('versitygw');
    bucket = await server.createBucket('s3-driver');
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('uploads a file larger than the part size in parts, holding a bounded number of parts in memory', async () => {
    const s3 = driver();
    const parts = s3.capabilities.parts;
    expect(parts).toMatchObject({ size: 5 * MiB, inFlight: 4, minSize: 5 * MiB, maxCount: 10_000 });
    // 96 MiB from one reused 1 MiB buffer: the driver must copy (the caller may reuse a chunk once it is
    // accepted) and must not keep more than the part filling and the parts in flight.
    const chunk = randomBytes(MiB);
    const total = 96;
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
      await pipeline(Readable.from(source()), await s3.openWrite('big'));
    } finally {
      clearInterval(sampler);
    }
    // The bound is (1 + 4) x 5 MiB = 25 MiB of parts, plus TLS's encrypted copies of the 4 parts being sent:
    // 45 MiB measured, steady (finished parts' buffers are reused); a whole-file buffer would take 96 MiB.
    expect(peak).toBeLessThan(56 * MiB);
    const back = createHash('sha256');
    for await (const piece of (await s3.openRead('big')) as Readable) back.update(piece as Buffer);
    expect(back.digest('hex')).toBe(expected.digest('hex'));
    expect((await s3.info('big'))?.size).toBe(total * MiB);
  });

  it('aborts the multipart upload of a destroyed write: no object, no parts left', async () => {
    const s3 = driver();
    await abortedWrite(s3, 'aborted');
    expect(await s3.info('aborted')).toBeUndefined();
    const uploads = await server.client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect((uploads.Uploads ?? []).filter((upload) => upload.Key?.endsWith('/aborted'))).toEqual([]);
  });

  it('lists past 1,000 keys (pagination) and removes them in batches', async () => {
    const s3 = driver();
    const names = Array.from({ length: 1003 }, (_, index) => `f${String(index).padStart(4, '0')}`);
    for (let start = 0; start < names.length; start += 32) {
      await Promise.all(
        names
          .slice(start, start + 32)
          .map(async (name) =>
            pipeline(Readable.from([Buffer.from(name)]), await s3.openWrite(`many/${name}`)),
          ),
      );
    }
    const listed: string[] = [];
    for await (const entry of s3.list('many')) listed.push(entry.name);
    expect(listed.sort()).toEqual(names);
    await s3.removeTree('many');
    expect(await s3KeysUnder(server, bucket, `t${count}/`)).toEqual([]);
  });

  it('fails at once with a one-line access error naming the URL and the code for a wrong secret', async () => {
    const s3 = driver({ s3KeySecret: 'wrong-secret', ioTimeout: 30 });
    const started = Date.now();
    const error = await rejectionOf(s3.read('file'));
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(isPgStashError(error, 'access')).toBe(true);
    expect(error.temporary).toBe(false);
    expect(error.message).toMatch(
      new RegExp(
        `^unable to read 'https://${server.endpoint}/${bucket}/t${count}/file': SignatureDoesNotMatch`,
      ),
    );
    expect(error.message).not.toContain('\n');
    expect(error.hint).toContain('repo1-s3-key-secret');
  });

  it('fails with pathMissing naming the bucket when the bucket does not exist', async () => {
    const s3 = openS3Storage(server.repoOptions('no-such-bucket', { ioTimeout: 30 }));
    const error = await rejectionOf(s3.read('file'));
    expect(isPgStashError(error, 'pathMissing')).toBe(true);
    expect(error.message).toContain(`https://${server.endpoint}/no-such-bucket/repo/file': NoSuchBucket`);
    expect(error.hint).toContain('repo1-s3-bucket');
  });

  it('refuses the self-signed certificate without repo-storage-ca-file, at once, with a hint', async () => {
    const { storageCaFile: _unused, ...options } = server.repoOptions(bucket, { ioTimeout: 30 });
    const s3 = openS3Storage(options);
    const started = Date.now();
    const error = await rejectionOf(s3.info('file'));
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(isPgStashError(error, 'service')).toBe(true);
    expect(error.message).toMatch(/^unable to get info for 'https:\/\/127\.0\.0\.1:\d+\/.*': \S*CERT/);
    expect(error.hint).toContain('repo1-storage-ca-file');
    // With verification off (a test server only), the same request goes through.
    expect(await openS3Storage({ ...options, storageVerifyTls: false }).info('file')).toBeUndefined();
  });

  describe('CLI', () => {
    let dir: string;

    beforeAll(async () => {
      dir = await createTempDir({ owner: 'root', label: 's3-cli' });
    });

    afterAll(async () => {
      await removeTempDir(dir);
    });

    /** PGSTASH_* variables of an s3 repo1 in `bucket`. */
    function s3Env(overrides: Record<string, string> = {}): Record<string, string> {
      return {
        PGSTASH_REPO1_TYPE: 's3',
        PGSTASH_REPO1_PATH: '/cli',
        PGSTASH_REPO1_S3_BUCKET: bucket,
        PGSTASH_REPO1_S3_ENDPOINT: server.endpoint,
        PGSTASH_REPO1_S3_REGION: server.region,
        PGSTASH_REPO1_S3_URI_STYLE: 'path',
        PGSTASH_REPO1_S3_KEY: server.accessKey,
        PGSTASH_REPO1_S3_KEY_SECRET: server.secretKey,
        PGSTASH_REPO1_STORAGE_CA_FILE: server.caFile,
        PGSTASH_LOG_PATH: dir,
        PGSTASH_LOCK_PATH: join(dir, 'lock'),
        ...overrides,
      };
    }

    it('refuses the S3 secrets on the command line, naming the option', async () => {
      for (const option of ['repo1-s3-key', 'repo1-s3-key-secret', 'repo1-s3-token']) {
        const result = await runPgstash(['info', `--${option}=x`], { env: s3Env() });
        expect(result.code).toBe(31);
        expect(result.stderr).toContain(`option '${option}' is not allowed on the command-line`);
      }
    });

    it('reports a wrong secret as one line with exit code 105, without the secret', async () => {
      const result = await runPgstash(['info'], {
        env: s3Env({ PGSTASH_REPO1_S3_KEY_SECRET: 'a-wrong-secret' }),
      });
      expect(result.code).toBe(105);
      const lines = result.stderr.split('\n').filter((line) => line.includes('ERROR'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /ERROR: \[105\]: unable to list 'https:\/\/127\.0\.0\.1:\d+\/.*': SignatureDoesNotMatch/,
      );
      expect(result.stderr + result.stdout).not.toContain('a-wrong-secret');
    });

    it('loads the AWS SDK for an s3 repository only', async () => {
      // A preload that reports, at exit, whether the AWS SDK was loaded (its bundle or its modules).
      const hook = await writeSdkHook(dir, {
        label: 'aws-sdk',
        bundle: 'sdk-s3.cjs',
        modulePath: '/@aws-sdk/',
      });
      const posixRepo = await createTempDir({ owner: 'root', label: 's3-cli-posix' });
      try {
        const posix = await runPgstash(['info'], {
          env: { PGSTASH_REPO1_PATH: posixRepo, PGSTASH_LOG_PATH: dir, NODE_OPTIONS: `--require=${hook}` },
        });
        expect(posix.code).toBe(0);
        expect(posix.stderr).toContain('aws-sdk modules: 0\n');
        const s3 = await runPgstash(['info'], { env: { ...s3Env(), NODE_OPTIONS: `--require=${hook}` } });
        expect(s3.code).toBe(0);
        expect(s3.stderr).toMatch(/aws-sdk modules: [1-9]/);
      } finally {
        await removeTempDir(posixRepo);
      }
    });
  });
});
