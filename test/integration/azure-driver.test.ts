// The Azure Blob driver beyond the conformance suite, on Azurite over TLS: staged blocks in bounded memory, an
// aborted upload, pagination and batch delete, SAS tokens, the one-line errors (wrong key, missing container,
// endpoint not answering, untrusted certificate), and the CLI: the key refused on the command line, the SDK loaded
// only for an azure repository.
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isPgStashError, type PgStashError } from '../../src/common/errors.js';
import { openAzureStorage, type AzureDriver } from '../../src/storage/azure.js';
import { azureServerAvailable, startAzureServer, type AzureTestServer } from '../harness/azure-server.js';
import { runPgstash } from '../harness/pgstash.js';
import { freePort } from '../harness/ports.js';
import { writeSdkHook } from '../harness/sdk-hook.js';
import { createTempDir, removeTempDir } from '../harness/tmp.js';
import { abortedWrite } from '../harness/aborted-write.js';
import { rejectionOf } from '../harness/errors.js';

const MiB = 1024 * 1024;

describe.skipIf(!azureServerAvailable())('azure driver on Azurite', () => {
  let server: AzureTestServer;
  let container: string;
  let count = 0;
  /** A fresh repository root (prefix) in the container. */
  const driver = (overrides = {}, tuning?: { listPage?: number }): AzureDriver =>
    openAzureStorage(server.repoOptions(container, { path: `/t${++count}`, ...overrides }), tuning);

  /** Every blob under `prefix`, as the service lists it. */
  async function blobsUnder(prefix: string): Promise<string[]> {
    const names: string[] = [];
    const client = server.service.getContainerClient(container);
    for await (const blob of client.listBlobsFlat({ prefix })) names.push(blob.name);
    return names;
  }

  beforeAll(async () => {
    server = await startAzureServer();
    container = await server.createContainer('azure-driver');
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('uploads a file larger than the block size in staged blocks, holding a bounded number in memory', async () => {
    const azure = driver();
    expect(azure.capabilities.parts).toMatchObject({ size: 5 * MiB, inFlight: 4, maxCount: 50_000 });
    // 96 MiB from one reused 1 MiB buffer: the driver must copy (the caller may reuse a chunk once it is
    // accepted) and must not keep more than the block filling and the blocks in flight.
    const chunk = randomBytes(MiB);
    const total = 96;
    const expected = createHash('sha256');
    for (let i = 0; i < total; i++) expected.update(chunk);
    const before = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }, 5);
    let visibleBeforeCommit: boolean | undefined;
    async function* source() {
      for (let i = 0; i < total; i++) {
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
        if (i === total - 1) visibleBeforeCommit = (await azure.info('big')) !== undefined;
        yield chunk;
      }
    }
    try {
      await pipeline(Readable.from(source()), await azure.openWrite('big'));
    } finally {
      clearInterval(sampler);
    }
    expect(visibleBeforeCommit).toBe(false);
    // The bound is (1 + 4) x 5 MiB = 25 MiB of blocks plus TLS's copies of those being sent; a whole-file buffer
    // would take 96 MiB.
    expect(peak).toBeLessThan(56 * MiB);
    const blocks = await server.service
      .getContainerClient(container)
      .getBlockBlobClient(`t${count}/big`)
      .getBlockList('committed');
    expect(blocks.committedBlocks?.map((block) => block.size)).toEqual([
      ...Array.from({ length: 19 }, () => 5 * MiB),
      MiB,
    ]);
    const back = createHash('sha256');
    for await (const piece of (await azure.openRead('big')) as Readable) back.update(piece as Buffer);
    expect(back.digest('hex')).toBe(expected.digest('hex'));
    expect((await azure.info('big'))?.size).toBe(total * MiB);
  });

  it('commits nothing for a destroyed write: no blob, and a later write of the name is whole', async () => {
    const azure = driver();
    await abortedWrite(azure, 'aborted');
    expect(await azure.info('aborted')).toBeUndefined();
    expect(await blobsUnder(`t${count}/`)).toEqual([]);
    // A later write of the same name commits only its own blocks.
    await pipeline(Readable.from([Buffer.from('whole')]), await azure.openWrite('aborted'));
    expect((await azure.read('aborted'))?.toString()).toBe('whole');
  });

  it('lists across pages and removes a tree in batches of 256', async () => {
    const azure = driver({}, { listPage: 7 });
    const names = Array.from({ length: 300 }, (_, index) => `f${String(index).padStart(4, '0')}`);
    for (let start = 0; start < names.length; start += 32) {
      await Promise.all(
        names
          .slice(start, start + 32)
          .map(async (name) =>
            pipeline(Readable.from([Buffer.from(name)]), await azure.openWrite(`many/${name}`)),
          ),
      );
    }
    await pipeline(Readable.from([Buffer.from('x')]), await azure.openWrite('many/sub/deeper'));
    const listed: string[] = [];
    for await (const entry of azure.list('many')) listed.push(`${entry.type}:${entry.name}`);
    expect(listed.sort()).toEqual([...names.map((name) => `file:${name}`), 'path:sub'].sort());
    await azure.removeTree('many');
    expect(await blobsUnder(`t${count}/`)).toEqual([]);
  });

  it('works with a SAS token, and names the container when the token may not write', async () => {
    const azure = driver({ azureKeyType: 'sas', azureKey: `?${server.sasToken()}` });
    await pipeline(Readable.from([Buffer.from('by sas')]), await azure.openWrite('dir/file'));
    expect((await azure.read('dir/file'))?.toString()).toBe('by sas');
    const listed: string[] = [];
    for await (const entry of azure.list('dir')) listed.push(entry.name);
    expect(listed).toEqual(['file']);
    await azure.removeTree('dir');
    expect(await azure.info('dir/file')).toBeUndefined();

    const readOnly = driver({ azureKeyType: 'sas', azureKey: server.sasToken('rl'), ioTimeout: 30 });
    const started = Date.now();
    const error = await rejectionOf(
      (async () => pipeline(Readable.from([Buffer.from('x')]), await readOnly.openWrite('file')))(),
    );
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(isPgStashError(error, 'access')).toBe(true);
    expect(error.message).toMatch(
      new RegExp(
        `^unable to write 'https://${server.endpoint}/${server.account}/${container}/t${count}/file': Auth`,
      ),
    );
    expect(error.message).not.toContain('sig=');
    expect(error.hint).toContain('repo1-azure-key');
  });

  /**
   * A TCP proxy to Azurite that, on the first connection answering more than `after` bytes, either cuts it there
   * or stops forwarding (a stall), or ('cut-upload') cuts the first connection sending more than `after` bytes;
   * later connections pass untouched. TLS goes through it end to end.
   */
  async function faultyProxy(
    mode: 'cut' | 'stalled' | 'cut-upload',
    after: number,
  ): Promise<{ port: number; readonly faulted: boolean; close(): void }> {
    const sockets = new Set<Socket>();
    let faulted = false;
    const proxy: Server = createServer((client) => {
      const upstream = connect(server.port, '127.0.0.1');
      sockets.add(client).add(upstream);
      let answered = 0;
      upstream.on('data', (data: Buffer) => {
        answered += data.length;
        if (mode !== 'cut-upload' && !faulted && answered > after) {
          faulted = true;
          if (mode === 'cut') {
            client.destroy();
            upstream.destroy();
          } else upstream.pause();
          return;
        }
        client.write(data);
      });
      let sent = 0;
      client.on('data', (data: Buffer) => {
        sent += data.length;
        if (mode === 'cut-upload' && !faulted && sent > after) {
          faulted = true;
          client.destroy();
          upstream.destroy();
          return;
        }
        upstream.write(data);
      });
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        from.on('error', () => to.destroy());
        from.on('close', () => to.destroy());
      }
    });
    const port = await freePort();
    await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
    return {
      port,
      get faulted() {
        return faulted;
      },
      close() {
        for (const socket of sockets) socket.destroy();
        proxy.close();
      },
    };
  }

  it.each(['cut', 'stalled'] as const)(
    'resumes a read whose connection is %s mid-body, from the byte reached',
    async (mode) => {
      const data = randomBytes(12 * MiB);
      await pipeline(Readable.from([data]), await driver().openWrite('resumed'));
      const proxy = await faultyProxy(mode, 3 * MiB);
      try {
        const through = openAzureStorage(
          server.repoOptions(container, {
            path: `/t${count}`,
            azureEndpoint: `127.0.0.1:${proxy.port}`,
            ioTimeout: 3,
          }),
        );
        const started = Date.now();
        const back = await through.read('resumed', { offset: 5, limit: 12 * MiB - 10 });
        expect(back?.equals(data.subarray(5, 12 * MiB - 5))).toBe(true);
        expect(proxy.faulted).toBe(true);
        // A stall is given up after io-timeout without data, then the read continues.
        if (mode === 'stalled') expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
      } finally {
        proxy.close();
      }
    },
  );

  it('retries a block whose upload is cut mid-way, and commits the whole file', async () => {
    const data = randomBytes(12 * MiB);
    const proxy = await faultyProxy('cut-upload', 3 * MiB);
    try {
      const through = openAzureStorage(
        server.repoOptions(container, {
          path: `/t${++count}`,
          azureEndpoint: `127.0.0.1:${proxy.port}`,
          ioTimeout: 20,
        }),
      );
      await pipeline(Readable.from([data]), await through.openWrite('retried'));
      expect((await through.read('retried'))?.equals(data)).toBe(true);
      expect(proxy.faulted).toBe(true);
    } finally {
      proxy.close();
    }
  });

  it('fails at once with a one-line access error naming the URL and the code for a wrong key', async () => {
    const azure = driver({ azureKey: Buffer.from('not the account key').toString('base64'), ioTimeout: 30 });
    const started = Date.now();
    const error = await rejectionOf(azure.read('file'));
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(isPgStashError(error, 'access')).toBe(true);
    expect(error.temporary).toBe(false);
    expect(error.message).toMatch(
      new RegExp(
        `^unable to read 'https://${server.endpoint}/${server.account}/${container}/t${count}/file': ` +
          'Authorization(Failure|Failed)|AuthenticationFailed',
      ),
    );
    expect(error.message).not.toContain('\n');
    expect(error.hint).toContain('repo1-azure-key');
  });

  it('refuses a key that is not base64 before any request, without showing it', () => {
    let error: PgStashError | undefined;
    try {
      driver({ azureKey: 'not a key!' });
    } catch (caught) {
      error = caught as PgStashError;
    }
    expect(isPgStashError(error, 'optionInvalidValue')).toBe(true);
    expect(error?.message).toBe('repo1-azure-key is not a base64 shared key');
  });

  it('fails with pathMissing naming the container when it does not exist', async () => {
    const azure = openAzureStorage(server.repoOptions('no-such-container', { ioTimeout: 30 }));
    const error = await rejectionOf(azure.read('file'));
    expect(isPgStashError(error, 'pathMissing')).toBe(true);
    expect(error.message).toContain(
      `/${server.account}/no-such-container/repo/file': ContainerNotFound, HTTP 404`,
    );
    expect(error.hint).toContain('repo1-azure-container');
    const listing = await rejectionOf(
      (async () => {
        for await (const _entry of azure.list('')) break;
      })(),
    );
    expect(isPgStashError(listing, 'pathMissing')).toBe(true);
  });

  it('fails an endpoint that does not answer within io-timeout, as temporary, with a hint', async () => {
    const port = await freePort();
    const azure = openAzureStorage(
      server.repoOptions(container, { azureEndpoint: `127.0.0.1:${port}`, ioTimeout: 2 }),
    );
    const started = Date.now();
    const error = await rejectionOf(azure.info('file'));
    const took = Date.now() - started;
    expect(took).toBeLessThan(10_000);
    expect(isPgStashError(error, 'service')).toBe(true);
    expect(error.temporary).toBe(true);
    expect(error.message).toMatch(
      new RegExp(`^unable to get info for 'https://127\\.0\\.0\\.1:${port}/.*': ECONNREFUSED`),
    );
    expect(error.hint).toContain('io-timeout');
  });

  it('refuses the self-signed certificate without repo-storage-ca-file, at once, with a hint', async () => {
    const { storageCaFile: _unused, ...options } = server.repoOptions(container, { ioTimeout: 30 });
    const azure = openAzureStorage(options);
    const started = Date.now();
    const error = await rejectionOf(azure.info('file'));
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(isPgStashError(error, 'service')).toBe(true);
    expect(error.message).toMatch(
      /^unable to get info for 'https:\/\/127\.0\.0\.1:\d+\/.*': \S*(CERT|SELF_SIGNED)/,
    );
    expect(error.hint).toContain('repo1-storage-ca-file');
    // With verification off (a test server only), the same request goes through.
    expect(await openAzureStorage({ ...options, storageVerifyTls: false }).info('file')).toBeUndefined();
  });

  describe('CLI', () => {
    let dir: string;

    beforeAll(async () => {
      dir = await createTempDir({ owner: 'root', label: 'azure-cli' });
    });

    afterAll(async () => {
      await removeTempDir(dir);
    });

    /** PGSTASH_* variables of an azure repo1 in the container. */
    function azureEnv(overrides: Record<string, string> = {}): Record<string, string> {
      return { ...server.cliEnv(container, dir), ...overrides };
    }

    it('refuses the Azure key on the command line, naming the option', async () => {
      const result = await runPgstash(['info', '--repo1-azure-key=x'], { env: azureEnv() });
      expect(result.code).toBe(31);
      expect(result.stderr).toContain(`option 'repo1-azure-key' is not allowed on the command-line`);
    });

    it('reports a wrong key as one line with exit code 105, without the key', async () => {
      const wrong = Buffer.from('a-wrong-azure-key').toString('base64');
      const result = await runPgstash(['info'], { env: azureEnv({ PGSTASH_REPO1_AZURE_KEY: wrong }) });
      expect(result.code).toBe(105);
      const lines = result.stderr.split('\n').filter((line) => line.includes('ERROR'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/ERROR: \[105\]: unable to list 'https:\/\/127\.0\.0\.1:\d+\/.*': Auth/);
      expect(result.stderr + result.stdout).not.toContain(wrong);
    });

    it('loads the Azure SDK for an azure repository only', async () => {
      // A preload that reports, at exit, whether the Azure SDK was loaded (its bundle or its modules).
      const hook = await writeSdkHook(dir, {
        label: 'azure-sdk',
        bundle: 'sdk-azure.cjs',
        modulePath: '/@azure/',
      });
      const posixRepo = await createTempDir({ owner: 'root', label: 'azure-cli-posix' });
      try {
        const posix = await runPgstash(['info'], {
          env: { PGSTASH_REPO1_PATH: posixRepo, PGSTASH_LOG_PATH: dir, NODE_OPTIONS: `--require=${hook}` },
        });
        expect(posix.code).toBe(0);
        expect(posix.stderr).toContain('azure-sdk modules: 0\n');
        const azure = await runPgstash(['info'], {
          env: { ...azureEnv(), NODE_OPTIONS: `--require=${hook}` },
        });
        expect(azure.code).toBe(0);
        expect(azure.stderr).toMatch(/azure-sdk modules: [1-9]/);
      } finally {
        await removeTempDir(posixRepo);
      }
    });
  });
});
