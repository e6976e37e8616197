// Runs the storage conformance suite against the S3 driver on versitygw (an S3 gateway over a directory), over TLS.
import { openS3Storage } from '../../src/storage/s3.js';
import { s3ServerAvailable, startS3Server } from '../harness/s3-server.js';
import { defineObjectStoreSuite } from './object-store-suite.js';

defineObjectStoreSuite('s3 (versitygw)', {
  available: s3ServerAvailable('versitygw'),
  start: () => startS3Server('versitygw'),
  makeBucket: (server) => server.createBucket('conformance'),
  openDriver: (server, bucket, path) => openS3Storage(server.repoOptions(bucket, { path })),
});
