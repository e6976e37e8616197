// The GCS driver's retries on fake-gcs-server behind a small proxy that fails chosen requests: a chunk retried on
// its own, throttling and 5xx retried, a download resumed after a reset, a permanent error at once.
import { randomBytes } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { isPgStashError } from '../../src/common/errors.js';
import { openGcsStorage } from '../../src/storage/gcs.js';
import { gcsServerAvailable, startGcsServer, type GcsTestServer } from '../harness/gcs-server.js';
import { rejectionOf } from '../harness/errors.js';

const MiB = 1024 * 1024;

/** What the proxy does with a request: pass it on, answer a status itself, or cut the answer's body. */
type Fault = 'pass' | { status: number; reason: string } | 'reset-body';

/**
 * Forwards to the server, except where `fault` says otherwise; rewrites upload session URLs to itself. Records
 * every request as 'METHOD path-without-query'.
 */
async function startProxy(target: string): Promise<{
  endpoint: string;
  requests: string[];
  fault: (rule: (req: IncomingMessage, index: number) => Fault) => void;
  stop(): Promise<void>;
}> {
  const requests: string[] = [];
  let rule: (req: IncomingMessage, index: number) => Fault = () => 'pass';
  let endpoint = '';
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const index = requests.length;
    const url = new URL(req.url ?? '/', target);
    const range = String(req.headers['content-range'] ?? '');
    requests.push(`${req.method} ${url.pathname}${range === '' ? '' : ` ${range}`}`);
    const fault = rule(req, index);
    if (typeof fault === 'object') {
      req.resume();
      res.writeHead(fault.status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { code: fault.status, message: fault.reason, errors: [{ reason: fault.reason }] },
        }),
      );
      return;
    }
    const forward = request(
      url,
      { method: req.method, headers: { ...req.headers, host: url.host } },
      (answer) => {
        const headers = { ...answer.headers };
        if (typeof headers.location === 'string')
          headers.location = headers.location.replace(target, endpoint);
        res.writeHead(answer.statusCode ?? 502, headers);
        if (fault === 'reset-body') {
          // Half of the body, then the connection drops.
          const length = Number(answer.headers['content-length'] ?? 0);
          let sent = 0;
          answer.on('data', (chunk: Buffer) => {
            if (sent + chunk.length >= length / 2) {
              res.write(chunk.subarray(0, Math.max(0, Math.floor(length / 2) - sent)));
              res.socket?.destroy();
              answer.destroy();
              return;
            }
            sent += chunk.length;
            res.write(chunk);
          });
          return;
        }
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.socket?.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    requests,
    fault: (next) => {
      rule = next;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.skipIf(!gcsServerAvailable())('gcs driver retries (fake-gcs-server behind a failing proxy)', () => {
  let server: GcsTestServer;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let bucket: string;
  let count = 0;
  const driver = () =>
    openGcsStorage(
      server.repoOptions(bucket, { path: `/r${++count}`, gcsEndpoint: proxy.endpoint, ioTimeout: 20 }),
    );

  beforeAll(async () => {
    server = await startGcsServer();
    bucket = await server.createBucket('gcs-retry');
    proxy = await startProxy(server.endpoint);
  });

  afterEach(() => {
    proxy.fault(() => 'pass');
    proxy.requests.length = 0;
  });

  afterAll(async () => {
    await proxy?.stop();
    await server?.stop();
  });

  it('retries a failed chunk on its own (503, then 429), and the object is whole', async () => {
    const gcs = driver();
    const data = randomBytes(17 * MiB);
    let chunkPuts = 0;
    proxy.fault((req) => {
      if (req.method !== 'PUT') return 'pass';
      chunkPuts++;
      if (chunkPuts === 2) return { status: 503, reason: 'backendError' };
      if (chunkPuts === 3) return { status: 429, reason: 'rateLimitExceeded' };
      return 'pass';
    });
    await pipeline(Readable.from([data]), await gcs.openWrite('big'));
    proxy.fault(() => 'pass');
    expect((await gcs.read('big'))?.equals(data)).toBe(true);
    // One session, 4 chunks of 5 MiB (the last 2 MiB), the second sent 3 times; the first never again.
    const puts = proxy.requests.filter((line) => line.startsWith('PUT '));
    expect(puts.map((line) => line.replace(/^PUT \S+ /, ''))).toEqual([
      `bytes 0-${5 * MiB - 1}/*`,
      `bytes ${5 * MiB}-${10 * MiB - 1}/*`,
      `bytes ${5 * MiB}-${10 * MiB - 1}/*`,
      `bytes ${5 * MiB}-${10 * MiB - 1}/*`,
      `bytes ${10 * MiB}-${15 * MiB - 1}/*`,
      `bytes ${15 * MiB}-${17 * MiB - 1}/${17 * MiB}`,
    ]);
    expect(proxy.requests.filter((line) => line.startsWith('POST /upload/'))).toHaveLength(1);
  });

  it('resumes a download cut mid-body from the byte reached', async () => {
    const gcs = driver();
    const data = randomBytes(3 * MiB);
    await pipeline(Readable.from([data]), await gcs.openWrite('file'));
    let downloads = 0;
    proxy.fault((req) =>
      req.url?.includes('alt=media') === true && ++downloads === 1 ? 'reset-body' : 'pass',
    );
    expect((await gcs.read('file'))?.equals(data)).toBe(true);
    expect(downloads).toBe(2);
  });

  it('fails at once on a permanent error (403), naming the URL, the reason and a hint', async () => {
    const gcs = driver();
    proxy.fault(() => ({ status: 403, reason: 'forbidden' }));
    const started = Date.now();
    const error = await rejectionOf(gcs.info('file'));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(isPgStashError(error, 'access')).toBe(true);
    expect(error.temporary).toBe(false);
    expect(error.message).toBe(
      `unable to get info for 'gs://${bucket}/r${count}/file': forbidden, HTTP 403: forbidden`,
    );
    expect(error.hint).toContain('repo1-gcs-bucket');
    expect(proxy.requests).toHaveLength(1);
  });

  it('gives up on a service that keeps failing after io-timeout, with a temporary error', async () => {
    const gcs = openGcsStorage(
      server.repoOptions(bucket, { path: `/r${++count}`, gcsEndpoint: proxy.endpoint, ioTimeout: 1 }),
    );
    proxy.fault(() => ({ status: 503, reason: 'backendError' }));
    const started = Date.now();
    const error = await rejectionOf(gcs.info('file'));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error.temporary).toBe(true);
    expect(error.message).toMatch(/^unable to get info for 'gs:\/\/.*': backendError, HTTP 503/);
    expect(error.hint).toContain('io-timeout');
    expect(proxy.requests.length).toBeGreaterThan(1);
  });
});
