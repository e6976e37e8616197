// The S3 driver through a fault-injecting proxy (test/harness/fault-proxy.ts) in front of versitygw: every request
// kind retries and succeeds under each transient fault, or fails with one clear line once io-timeout is spent.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { isPgStashError } from '../../src/common/errors.js';
import { openS3Storage, type S3Driver } from '../../src/storage/s3.js';
import { startFaultProxy, type FaultProxy, type FaultType } from '../harness/fault-proxy.js';
import {
  proxyOptionsFor,
  s3ServerAvailable,
  startS3Server,
  type S3TestServer,
} from '../harness/s3-server.js';
import { rejectionOf } from '../harness/errors.js';

const MiB = 1024 * 1024;
/** Seconds: short, so that a stalled request gives up quickly, long enough for a loaded machine's requests. */
const IO_TIMEOUT = 3;

const FAULTS: readonly FaultType[] = [
  'error500',
  'error503',
  'slowDown',
  'resetRequest',
  'resetResponse',
  'truncate',
  'stall',
];

/** 1,003 names: a listing of two pages. */
const NAMES = Array.from({ length: 1003 }, (_, index) => `n${String(index).padStart(4, '0')}`);

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function write(s3: S3Driver, path: string, data: Buffer): Promise<void> {
  await pipeline(Readable.from([data]), await s3.openWrite(path));
}

describe.skipIf(!s3ServerAvailable('versitygw'))('s3 driver under injected faults (versitygw)', () => {
  let server: S3TestServer;
  let proxy: FaultProxy;
  let bucket: string;
  let count = 0;
  /** A driver of a fresh prefix, through the proxy, and one of the same prefix straight to the server. */
  const drivers = (): { faulty: S3Driver; direct: S3Driver } => {
    const path = `/f${++count}`;
    return {
      faulty: openS3Storage(
        server.repoOptions(bucket, { path, s3Endpoint: proxy.endpoint, ioTimeout: IO_TIMEOUT }),
      ),
      direct: openS3Storage(server.repoOptions(bucket, { path })),
    };
  };

  /** Through the proxy: a prefix holding NAMES, two list pages. */
  let listing: S3Driver;

  beforeAll(async () => {
    server = await startS3Server('versitygw');
    bucket = await server.createBucket('s3-faults');
    proxy = await startFaultProxy(await proxyOptionsFor(server));
    const { faulty, direct } = drivers();
    listing = faulty;
    for (let start = 0; start < NAMES.length; start += 64) {
      await Promise.all(NAMES.slice(start, start + 64).map((name) => write(direct, name, Buffer.from(name))));
    }
  });

  afterEach(() => {
    proxy?.clearFaults();
    proxy?.resetCounts();
  });

  afterAll(async () => {
    await proxy?.stop();
    await server?.stop();
  });

  describe.each(FAULTS)('one %s', (fault) => {
    it('small put: retried, the object whole', async () => {
      const { faulty, direct } = drivers();
      const data = randomBytes(100_000);
      const injected = proxy.inject({ fault, kind: 'put' });
      await write(faulty, 'small', data);
      expect(injected.faulted).toBe(1);
      expect(sha((await direct.read('small')) as Buffer)).toBe(sha(data));
    });

    it('multipart part: that part retried, the object whole, no upload left', async () => {
      const { faulty, direct } = drivers();
      const data = randomBytes(12 * MiB);
      const injected = proxy.inject({ fault, kind: 'upload-part', nth: 2 });
      await write(faulty, 'large', data);
      expect(injected.faulted).toBe(1);
      expect(proxy.counts()['create-multipart']).toBe(1);
      expect(proxy.counts()['complete-multipart']).toBe(1);
      expect(sha((await direct.read('large')) as Buffer)).toBe(sha(data));
      const uploads = await server.client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      expect((uploads.Uploads ?? []).filter((upload) => upload.Key === `f${count}/large`)).toEqual([]);
    });

    it.each(['create-multipart', 'complete-multipart'])(
      '%s: retried, the object whole, no upload left',
      async (kind) => {
        const { faulty, direct } = drivers();
        const data = randomBytes(6 * MiB);
        const injected = proxy.inject({ fault, kind });
        await write(faulty, 'large', data);
        expect(injected.faulted).toBe(1);
        expect(sha((await direct.read('large')) as Buffer)).toBe(sha(data));
        const uploads = await server.client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
        expect((uploads.Uploads ?? []).filter((upload) => upload.Key === `f${count}/large`)).toEqual([]);
      },
    );

    it('get: retried (a cut body resumed), the bytes exact', async () => {
      const { faulty, direct } = drivers();
      const data = randomBytes(3 * MiB);
      await write(direct, 'object', data);
      const injected = proxy.inject({ fault, kind: 'get' });
      expect(sha((await faulty.read('object')) as Buffer)).toBe(sha(data));
      expect(injected.faulted).toBe(1);
    });

    it('ranged get: retried, the range exact', async () => {
      const { faulty, direct } = drivers();
      const data = randomBytes(2 * MiB);
      await write(direct, 'object', data);
      const injected = proxy.inject({ fault, kind: 'get' });
      const range = await faulty.read('object', { offset: 100_000, limit: 500_000 });
      expect(injected.faulted).toBe(1);
      expect(proxy.requests.every((entry) => entry.range !== undefined)).toBe(true);
      expect(sha(range as Buffer)).toBe(sha(data.subarray(100_000, 600_000)));
    });

    it('list page: the page retried, every name listed once', async () => {
      const injected = proxy.inject({ fault, kind: 'list', nth: 2 });
      const listed: string[] = [];
      for await (const entry of listing.list('')) listed.push(entry.name);
      expect(injected.faulted).toBe(1);
      expect(listed.sort()).toEqual(NAMES);
    });

    it('delete batch: retried, every object gone', async () => {
      const { faulty, direct } = drivers();
      for (let i = 0; i < 20; i++) await write(direct, `tree/sub/o${i}`, Buffer.from(String(i)));
      const injected = proxy.inject({ fault, kind: 'delete-batch' });
      await faulty.removeTree('tree');
      expect(injected.faulted).toBe(1);
      const left: string[] = [];
      for await (const entry of direct.list('tree/sub')) left.push(entry.name);
      expect(left).toEqual([]);
    });
  });

  it.each(['resetResponse', 'truncate'] as const)(
    'get: a body cut by %s before anything reads it is resumed when read, not an uncaught error',
    async (fault) => {
      const { faulty, direct } = drivers();
      const data = randomBytes(200_000);
      await write(direct, 'object', data);
      const injected = proxy.inject({ fault, kind: 'get' });
      const stream = await faulty.openRead('object');
      // The cut arrives while nothing listens to the body yet (a command opens a read, then sets up its pipeline).
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(injected.faulted).toBe(1);
      const parts: Buffer[] = [];
      for await (const part of stream as Readable) parts.push(part as Buffer);
      expect(sha(Buffer.concat(parts))).toBe(sha(data));
      expect(proxy.counts()['get']).toBe(2);
    },
  );

  it('keeps failing 503: gives up within the budget with one line naming the URL and io-timeout', async () => {
    const { faulty } = drivers();
    proxy.inject({ fault: 'slowDown', times: Infinity });
    const started = Date.now();
    const error = await rejectionOf(faulty.read('object'));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(IO_TIMEOUT * 1000 * 0.5);
    expect(elapsed).toBeLessThan(IO_TIMEOUT * 1000 * 4);
    expect(isPgStashError(error, 'service')).toBe(true);
    expect(error.temporary).toBe(true);
    expect(error.message).toBe(
      `unable to read 'https://${proxy.endpoint}/${bucket}/f${count}/object': SlowDown, HTTP 503: Please reduce your request rate.`,
    );
    expect(error.hint).toContain('io-timeout');
  });

  it('keeps stalling: gives up after a few io-timeouts with one line naming the URL', async () => {
    const { faulty } = drivers();
    proxy.inject({ fault: 'stall', kind: 'put', times: Infinity });
    const started = Date.now();
    const error = await rejectionOf(write(faulty, 'stuck', Buffer.from('x')));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(IO_TIMEOUT * 1000 * 5);
    expect(isPgStashError(error, 'service')).toBe(true);
    expect(error.temporary).toBe(true);
    expect(error.message).toMatch(
      new RegExp(`^unable to write 'https://${proxy.endpoint}/${bucket}/f${count}/stuck': \\S+`),
    );
    expect(error.message).not.toContain('\n');
    expect(error.hint).toContain('io-timeout');
  });
});
