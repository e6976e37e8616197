// Runs the storage conformance suite against the GCS driver on fake-gcs-server.
import { afterAll, beforeAll, describe } from 'vitest';

import { openGcsStorage } from '../../src/storage/gcs.js';
import { gcsServerAvailable, startGcsServer, type GcsTestServer } from '../harness/gcs-server.js';
import { defineDriverSuite } from './driver-suite.js';

describe.skipIf(!gcsServerAvailable())('gcs on fake-gcs-server', () => {
  let server: GcsTestServer;
  let bucket: string;
  let count = 0;

  beforeAll(async () => {
    server = await startGcsServer();
    bucket = await server.createBucket('conformance');
  });

  afterAll(async () => {
    await server?.stop();
  });

  // Each test gets its own prefix in the bucket: a fresh, empty repository root.
  defineDriverSuite('gcs (fake-gcs-server)', async () => {
    const driver = openGcsStorage(server.repoOptions(bucket, { path: `/test-${++count}` }));
    return { driver, cleanup: () => driver.removeTree('') };
  });
});
