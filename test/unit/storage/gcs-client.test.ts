// GCS repository settings from the repoN options: endpoint forms, chunk size rounding, prefix.
import { describe, expect, it } from 'vitest';

import { gcsSettings, type GcsRepoOptions } from '../../../src/storage/gcs-client.js';

const BASE: GcsRepoOptions = {
  index: 2,
  path: '/repo/',
  ioTimeout: 60,
  gcsBucket: 'backups',
  gcsEndpoint: 'storage.googleapis.com',
  storagePort: 443,
  storageUploadChunkSize: 5 * 1024 * 1024,
};

describe('gcsSettings', () => {
  it.each([
    // The origin an upload session URL from the service has: without the default port, or sessions are refused.
    ['storage.googleapis.com', 443, 'https://storage.googleapis.com'],
    ['storage.googleapis.com', 8443, 'https://storage.googleapis.com:8443'],
    ['gcs.internal:9000', 443, 'https://gcs.internal:9000'],
    ['http://127.0.0.1:4443', 443, 'http://127.0.0.1:4443'],
    ['https://storage.googleapis.com:443/', 443, 'https://storage.googleapis.com'],
  ])('takes endpoint %s (port %d) as %s', (gcsEndpoint, storagePort, endpoint) => {
    expect(gcsSettings({ ...BASE, gcsEndpoint, storagePort }).endpoint).toBe(endpoint);
  });

  it('rounds the chunk size down to a multiple of 256 KiB and strips the path to a prefix', () => {
    const settings = gcsSettings({ ...BASE, storageUploadChunkSize: 5 * 1024 * 1024 + 1000 });
    expect(settings.chunkSize).toBe(5 * 1024 * 1024);
    expect(settings.prefix).toBe('repo');
    expect(settings.repo).toBe('repo2');
    expect(settings.ioTimeoutMs).toBe(60_000);
  });

  it('names the missing bucket option', () => {
    expect(() => gcsSettings({ ...BASE, gcsBucket: undefined })).toThrow('repo2-gcs-bucket option required');
  });
});
