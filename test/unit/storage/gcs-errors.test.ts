// GCS errors: what is retried, a missing object told from a missing bucket, and the one-line messages.
import { describe, expect, it } from 'vitest';

import { GcsServiceError } from '../../../src/storage/gcs-client.js';
import { isMissingObject, isTemporary, translateGcsError } from '../../../src/storage/gcs-errors.js';

const FAILURE = {
  action: 'read',
  url: 'gs://pg-backup-bucket/repo/file',
  endpoint: 'https://storage.googleapis.com',
  repo: 'repo1',
  kind: 'fileRead',
} as const;

describe('gcs errors', () => {
  it('takes a 404 naming the object for a missing object, even in a bucket named "...bucket"', () => {
    expect(
      isMissingObject(new GcsServiceError(404, 'notFound', 'No such object: pg-backup-bucket/repo/file')),
    ).toBe(true);
    expect(
      isMissingObject(new GcsServiceError(404, 'notFound', 'The specified bucket does not exist.')),
    ).toBe(false);
  });

  it('retries 408, 429, 5xx and network failures; not 4xx or TLS failures', () => {
    for (const status of [408, 429, 500, 502, 503])
      expect(isTemporary(new GcsServiceError(status, '', ''))).toBe(true);
    for (const status of [400, 401, 403, 404, 412])
      expect(isTemporary(new GcsServiceError(status, '', ''))).toBe(false);
    expect(isTemporary(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(
      isTemporary(Object.assign(new Error('self-signed'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })),
    ).toBe(false);
  });

  it('makes one line naming the URL, the reason and the status, with a hint', () => {
    const missingBucket = translateGcsError(
      new GcsServiceError(404, 'notFound', 'The specified bucket does not exist.'),
      FAILURE,
    );
    expect(missingBucket.kind).toBe('pathMissing');
    expect(missingBucket.message).toBe(
      "unable to read 'gs://pg-backup-bucket/repo/file': notFound, HTTP 404: The specified bucket does not exist.",
    );
    expect(missingBucket.hint).toContain('repo1-gcs-bucket');
    const refused = translateGcsError(new GcsServiceError(401, 'authError', 'Invalid Credentials'), FAILURE);
    expect(refused.kind).toBe('access');
    expect(refused.hint).toContain('repo1-gcs-key');
  });
});
