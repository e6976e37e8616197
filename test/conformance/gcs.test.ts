// Runs the storage conformance suite against the GCS driver on fake-gcs-server.
import { openGcsStorage } from '../../src/storage/gcs.js';
import { gcsServerAvailable, startGcsServer } from '../harness/gcs-server.js';
import { defineObjectStoreSuite } from './object-store-suite.js';

defineObjectStoreSuite('gcs (fake-gcs-server)', {
  available: gcsServerAvailable(),
  start: startGcsServer,
  makeBucket: (server) => server.createBucket('conformance'),
  openDriver: (server, bucket, path) => openGcsStorage(server.repoOptions(bucket, { path })),
});
