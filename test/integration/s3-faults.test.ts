// The S3 driver through a fault-injecting proxy (test/harness/fault-proxy.ts) in front of versitygw: S3's own request
// kinds (multipart upload, list pages, batch delete) retry and succeed under each transient fault, or fail with one
// clear line once io-timeout is spent. Puts and reads under faults, as every store's, are in object-store-faults.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { isPgStashError } from '../../src/common/errors.js';
import { openS3Storage, type S3Driver } from '../../src/storage/s3.js';
import { startFaultProxy, TRANSIENT_FAULTS, type FaultProxy } from '../harness/fault-proxy.js';
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

  describe.each(TRANSIENT_FAULTS)('one %s', (fault) => {
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
