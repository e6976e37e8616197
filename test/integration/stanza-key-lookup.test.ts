// stanzaKeyExists on an object store: one listing finds the stanza key or its copy alone, and a name that only
// starts like it is not taken for it (S3 on versitygw; posix keeps its two stats, in the unit tests).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { stanzaKeyExists } from '../../src/repo/stanza-key.js';
import { openS3Storage, type S3Driver } from '../../src/storage/s3.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import {
  proxyOptionsFor,
  s3ServerAvailable,
  startS3Server,
  type S3TestServer,
} from '../harness/s3-server.js';

describe.skipIf(!s3ServerAvailable('versitygw'))('stanza key lookup on S3 (versitygw)', () => {
  let server: S3TestServer;
  let proxy: FaultProxy;
  let bucket: string;
  let count = 0;
  const driver = (): S3Driver =>
    openS3Storage(server.repoOptions(bucket, { path: `/k${++count}`, s3Endpoint: proxy.endpoint }));

  async function put(s3: S3Driver, path: string): Promise<void> {
    await pipeline(Readable.from([Buffer.from('{}')]), await s3.openWrite(path));
  }

  beforeAll(async () => {
    server = await startS3Server('versitygw');
    bucket = await server.createBucket('stanza-key');
    proxy = await startFaultProxy(await proxyOptionsFor(server));
  });

  afterAll(async () => {
    await proxy?.stop();
    await server?.stop();
  });

  it.each([
    { files: [], found: false },
    { files: ['backup/main/stanza.key'], found: true },
    { files: ['backup/main/stanza.key.copy'], found: true },
    {
      files: ['backup/main/stanza.key.old', 'backup/main/stanza.keys/x', 'backup/other/stanza.key'],
      found: false,
    },
  ])('with $files: $found, in one listing', async ({ files, found }) => {
    const s3 = driver();
    for (const file of files) await put(s3, file);
    proxy.resetCounts();
    expect(await stanzaKeyExists(s3, 'main')).toBe(found);
    expect(proxy.counts()).toEqual({ list: 1 });
  });
});
