// Runs the storage conformance suite against the S3 driver on SeaweedFS (a distributed store with an S3 gateway), over TLS.
import { afterAll, beforeAll, describe } from 'vitest';

import { openS3Storage } from '../../src/storage/s3.js';
import { s3ServerAvailable, startS3Server, type S3TestServer } from '../harness/s3-server.js';
import { defineDriverSuite } from './driver-suite.js';

describe.skipIf(!s3ServerAvailable('seaweedfs'))('s3 on SeaweedFS', () => {
  let server: S3TestServer;
  let bucket: string;
  let count = 0;

  beforeAll(async () => {
    server = await startS3Server('seaweedfs');
    bucket = await server.createBucket('conformance');
  });

  afterAll(async () => {
    await server?.stop();
  });

  // Each test gets its own prefix in the bucket: a fresh, empty repository root.
  defineDriverSuite('s3 (SeaweedFS)', async () => {
    const driver = openS3Storage(server.repoOptions(bucket, { path: `/test-${++count}` }));
    return { driver, cleanup: () => driver.removeTree('') };
  });
});
