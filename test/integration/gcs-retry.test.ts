// The GCS driver's own retry cases on fake-gcs-server behind the harness's fault proxy: a chunk of a resumable
// session retried on its own, and a permanent error's message and hint. The faults every object store shares
// (reads resumed, 503 until io-timeout, ...) are in object-store-faults.test.ts.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { isPgStashError } from '../../src/common/errors.js';
import { openGcsStorage } from '../../src/storage/gcs.js';
import { rejectionOf } from '../harness/errors.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { gcsServerAvailable, startGcsServer, type GcsTestServer } from '../harness/gcs-server.js';
import { proxyOptionsFor } from '../harness/s3-server.js';

const MiB = 1024 * 1024;

describe.skipIf(!gcsServerAvailable())('gcs driver retries (fake-gcs-server behind the fault proxy)', () => {
  let server: GcsTestServer;
  let proxy: FaultProxy;
  let bucket: string;
  let count = 0;
  const driver = () =>
    openGcsStorage(
      server.repoOptions(bucket, {
        path: `/r${++count}`,
        gcsEndpoint: `https://${proxy.endpoint}`,
        ioTimeout: 20,
      }),
    );

  beforeAll(async () => {
    server = await startGcsServer({ tls: true });
    bucket = await server.createBucket('gcs-retry');
    proxy = await startFaultProxy({ ...(await proxyOptionsFor(server)), store: 'gcs' });
  });

  afterEach(() => {
    proxy?.clearFaults();
    proxy?.resetCounts();
  });

  afterAll(async () => {
    await proxy?.stop();
    await server?.stop();
  });

  it('retries a failed chunk on its own (503, then 429), and the object is whole', async () => {
    const gcs = driver();
    const data = randomBytes(17 * MiB);
    // The second chunk's first try answered 503, its second 429 (GCS's throttling).
    proxy.inject({ fault: 'error503', kind: 'upload-part', nth: 2 });
    proxy.inject({ fault: 'slowDown', kind: 'upload-part', nth: 2 });
    await pipeline(Readable.from([data]), await gcs.openWrite('big'));
    expect(proxy.requests.filter((entry) => entry.fault !== undefined).map((entry) => entry.fault)).toEqual([
      'error503',
      'slowDown',
    ]);
    expect((await gcs.read('big'))?.equals(data)).toBe(true);
    // One session, 4 chunks of 5 MiB (the last 2 MiB), the second sent 3 times; the first never again.
    const puts = proxy.requests.filter((entry) => entry.kind === 'upload-part');
    expect(puts.map((entry) => entry.contentRange)).toEqual([
      `bytes 0-${5 * MiB - 1}/*`,
      `bytes ${5 * MiB}-${10 * MiB - 1}/*`,
      `bytes ${5 * MiB}-${10 * MiB - 1}/*`,
      `bytes ${5 * MiB}-${10 * MiB - 1}/*`,
      `bytes ${10 * MiB}-${15 * MiB - 1}/*`,
      `bytes ${15 * MiB}-${17 * MiB - 1}/${17 * MiB}`,
    ]);
    expect(proxy.counts()['create-multipart']).toBe(1);
  });

  it('fails at once on a permanent error (403), naming the URL, the reason and a hint', async () => {
    const gcs = driver();
    proxy.inject({ fault: 'forbidden', times: Infinity });
    const started = Date.now();
    const error = await rejectionOf(gcs.info('file'));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(isPgStashError(error, 'access')).toBe(true);
    expect(error.temporary).toBe(false);
    expect(error.message).toBe(
      `unable to get info for 'gs://${bucket}/r${count}/file': forbidden, HTTP 403: Access Denied`,
    );
    expect(error.hint).toContain('repo1-gcs-bucket');
    expect(proxy.requests).toHaveLength(1);
  });
});
