// The same faults for the three object-store drivers (S3 on versitygw, Azure Blob on Azurite, GCS on
// fake-gcs-server), each behind the harness's fault proxy: a write and a read retried or resumed under each fault, a
// body cut before anything reads it, a body cut at the same byte every time, a permanent error at once.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { isPgStashError } from '../../src/common/errors.js';
import { openAzureStorage } from '../../src/storage/azure.js';
import type { Driver } from '../../src/storage/driver.js';
import { openGcsStorage } from '../../src/storage/gcs.js';
import { openS3Storage } from '../../src/storage/s3.js';
import { azureServerAvailable, startAzureServer } from '../harness/azure-server.js';
import { rejectionOf } from '../harness/errors.js';
import {
  startFaultProxy,
  type FaultProxy,
  TRANSIENT_FAULTS,
  type ProxiedStore,
} from '../harness/fault-proxy.js';
import { gcsServerAvailable, startGcsServer } from '../harness/gcs-server.js';
import { proxyOptionsFor, s3ServerAvailable, startS3Server } from '../harness/s3-server.js';

/** Seconds: short, so that a stalled request gives up quickly, long enough for a loaded machine's requests. */
const IO_TIMEOUT = 3;

/** A store under test: drivers of one fresh prefix, through the proxy and straight to the server. */
interface StoreUnderTest {
  readonly proxy: FaultProxy;
  drivers(): { faulty: Driver; direct: Driver };
  stop(): Promise<void>;
}

let count = 0;

/** Drivers of a fresh prefix from `open` (through the proxy or not), and the way to stop both servers. */
function underTest(
  proxy: FaultProxy,
  stopServer: () => Promise<void>,
  open: (path: string, throughProxy: boolean) => Driver,
): StoreUnderTest {
  return {
    proxy,
    drivers() {
      const path = `/f${++count}`;
      return { faulty: open(path, true), direct: open(path, false) };
    },
    stop: async () => {
      await proxy.stop();
      await stopServer();
    },
  };
}

async function s3Store(): Promise<StoreUnderTest> {
  const server = await startS3Server('versitygw');
  const bucket = await server.createBucket('store-faults');
  const proxy = await startFaultProxy({ ...(await proxyOptionsFor(server)), store: 's3' });
  return underTest(
    proxy,
    () => server.stop(),
    (path, throughProxy) =>
      openS3Storage(
        server.repoOptions(bucket, {
          path,
          ...(throughProxy ? { s3Endpoint: proxy.endpoint, ioTimeout: IO_TIMEOUT } : {}),
        }),
      ),
  );
}

async function azureStore(): Promise<StoreUnderTest> {
  const server = await startAzureServer();
  const container = await server.createContainer('store-faults');
  const proxy = await startFaultProxy({ ...(await proxyOptionsFor(server)), store: 'azure' });
  return underTest(
    proxy,
    () => server.stop(),
    (path, throughProxy) =>
      openAzureStorage(
        server.repoOptions(container, {
          path,
          ...(throughProxy ? { azureEndpoint: proxy.endpoint, ioTimeout: IO_TIMEOUT } : {}),
        }),
      ),
  );
}

async function gcsStore(): Promise<StoreUnderTest> {
  // With TLS, so that the same HTTPS proxy stands in front (it rewrites the upload sessions' Location).
  const server = await startGcsServer({ tls: true });
  const bucket = await server.createBucket('store-faults');
  const proxy = await startFaultProxy({ ...(await proxyOptionsFor(server)), store: 'gcs' });
  return underTest(
    proxy,
    () => server.stop(),
    (path, throughProxy) =>
      openGcsStorage(
        server.repoOptions(bucket, {
          path,
          ...(throughProxy ? { gcsEndpoint: `https://${proxy.endpoint}`, ioTimeout: IO_TIMEOUT } : {}),
        }),
      ),
  );
}

const STORES: readonly { store: ProxiedStore; available: boolean; start: () => Promise<StoreUnderTest> }[] = [
  { store: 's3', available: s3ServerAvailable('versitygw'), start: s3Store },
  { store: 'azure', available: azureServerAvailable(), start: azureStore },
  { store: 'gcs', available: gcsServerAvailable(), start: gcsStore },
];

const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function write(driver: Driver, path: string, data: Buffer): Promise<void> {
  await pipeline(Readable.from([data]), await driver.openWrite(path));
}

async function readAll(stream: Readable | undefined): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream as Readable) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

describe.each(STORES)('$store driver under injected faults', ({ available, start }) => {
  let store: StoreUnderTest;
  const proxy = (): FaultProxy => store.proxy;

  beforeAll(async () => {
    if (available) store = await start();
  });

  afterEach(() => {
    store?.proxy.clearFaults();
    store?.proxy.resetCounts();
  });

  afterAll(async () => {
    await store?.stop();
  });

  describe.skipIf(!available).each(TRANSIENT_FAULTS)('one %s', (fault) => {
    it('small put: retried, the object whole', async () => {
      const { faulty, direct } = store.drivers();
      const data = randomBytes(100_000);
      const injected = proxy().inject({ fault, kind: 'put' });
      await write(faulty, 'small', data);
      expect(injected.faulted).toBe(1);
      expect(sha((await direct.read('small')) as Buffer)).toBe(sha(data));
    });

    it('get: retried (a cut body resumed), the bytes exact', async () => {
      const { faulty, direct } = store.drivers();
      const data = randomBytes(3 * 1024 * 1024);
      await write(direct, 'object', data);
      const injected = proxy().inject({ fault, kind: 'get' });
      expect(sha((await faulty.read('object')) as Buffer)).toBe(sha(data));
      expect(injected.faulted).toBe(1);
    });

    it('ranged get: retried, the range exact', async () => {
      const { faulty, direct } = store.drivers();
      const data = randomBytes(2 * 1024 * 1024);
      await write(direct, 'object', data);
      const injected = proxy().inject({ fault, kind: 'get' });
      const range = await faulty.read('object', { offset: 100_000, limit: 500_000 });
      expect(injected.faulted).toBe(1);
      expect(
        proxy()
          .requests.filter((entry) => entry.kind === 'get')
          .every((entry) => entry.range),
      ).toBe(true);
      expect(sha(range as Buffer)).toBe(sha(data.subarray(100_000, 600_000)));
    });
  });

  it.skipIf(!available).each(['resetResponse', 'truncate'] as const)(
    'get: a body cut by %s before anything reads it is resumed when read, not an uncaught error',
    async (fault) => {
      const { faulty, direct } = store.drivers();
      const data = randomBytes(200_000);
      await write(direct, 'object', data);
      const injected = proxy().inject({ fault, kind: 'get' });
      const stream = await faulty.openRead('object');
      // The cut arrives while nothing listens to the body yet (a command opens a read, then sets up its pipeline).
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(injected.faulted).toBe(1);
      expect(sha(await readAll(stream))).toBe(sha(data));
      expect(proxy().counts()['get']).toBe(2);
    },
  );

  it.skipIf(!available)(
    'get: a body cut every time ends once it stops moving, within the budget, naming the URL',
    async () => {
      const { faulty, direct } = store.drivers();
      await write(direct, 'object', randomBytes(100_000));
      // Each answer sends half of what is asked, then is cut: the read moves on, slower and slower, until the
      // last byte is never sent. GCS's reads had no limit here: they asked for that byte forever.
      proxy().inject({ fault: 'truncate', kind: 'get', times: Infinity });
      const started = Date.now();
      const error = await rejectionOf(readAll(await faulty.openRead('object')));
      const elapsed = Date.now() - started;
      expect(elapsed).toBeLessThan(IO_TIMEOUT * 1000 * 4);
      expect(error.temporary).toBe(true);
      expect(error.message).toMatch(new RegExp(`^unable to read '${escaped(faulty.location)}/object'`));
      expect(error.message).not.toContain('\n');
      const gets = proxy().counts()['get'] ?? 0;
      expect(gets).toBeGreaterThan(17);
      expect(gets).toBeLessThan(40);
    },
  );

  it.skipIf(!available)('a permanent error (403) fails at once, one request, naming the URL', async () => {
    const { faulty } = store.drivers();
    proxy().inject({ fault: 'forbidden', times: Infinity });
    const started = Date.now();
    const error = await rejectionOf(faulty.read('object'));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(isPgStashError(error, 'access')).toBe(true);
    expect(error.temporary).toBe(false);
    expect(error.message).toMatch(new RegExp(`^unable to read '${escaped(faulty.location)}/object'.*403`));
    expect(proxy().requests).toHaveLength(1);
  });

  it.skipIf(!available)('keeps failing 503: gives up within the budget with a temporary error', async () => {
    const { faulty } = store.drivers();
    proxy().inject({ fault: 'error503', times: Infinity });
    const started = Date.now();
    const error = await rejectionOf(faulty.read('object'));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(IO_TIMEOUT * 1000 * 0.5);
    expect(elapsed).toBeLessThan(IO_TIMEOUT * 1000 * 4);
    expect(isPgStashError(error, 'service')).toBe(true);
    expect(error.temporary).toBe(true);
    expect(error.message).toMatch(new RegExp(`^unable to read '${escaped(faulty.location)}/object'.*503`));
    expect(error.hint).toContain('io-timeout');
    expect(proxy().requests.length).toBeGreaterThan(1);
  });
});
