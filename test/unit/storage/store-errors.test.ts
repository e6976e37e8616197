// The one-line message shared by the object stores' error translations.
import { describe, expect, it } from 'vitest';

import {
  failureKind,
  serviceFailureText,
  storeError,
  untrustedTlsHint,
} from '../../../src/storage/store-errors.js';

const failure = { action: 'write', url: 's3://bucket/repo/file', repo: 'repo3', kind: 'fileWrite' } as const;

describe('store errors', () => {
  it('names the action, the URL, the code, the HTTP status and the first line of what the service said', () => {
    expect(
      serviceFailureText(failure, 'SlowDown', 503, 'Please reduce your request rate.\nRequestId: 1'),
    ).toBe("unable to write 's3://bucket/repo/file': SlowDown, HTTP 503: Please reduce your request rate.");
  });

  it('leaves out a message that says nothing more: empty, the code again, or one the store names', () => {
    expect(serviceFailureText(failure, 'NoSuchBucket', 404, 'NoSuchBucket')).toBe(
      "unable to write 's3://bucket/repo/file': NoSuchBucket, HTTP 404",
    );
    expect(serviceFailureText(failure, 'ECONNRESET', undefined, '')).toBe(
      "unable to write 's3://bucket/repo/file': ECONNRESET",
    );
    expect(serviceFailureText(failure, 'Unknown', 400, 'UnknownError', ['UnknownError'])).toBe(
      "unable to write 's3://bucket/repo/file': Unknown, HTTP 400",
    );
  });

  it('makes a PgStashError with its cause, hint and temporary flag', () => {
    const cause = new Error('x');
    const error = storeError('service', 'text', cause, true, untrustedTlsHint('repo3'));
    expect(error).toMatchObject({ kind: 'service', message: 'text', temporary: true, cause });
    expect(error.hint).toContain('repo3-storage-ca-file');
    expect(storeError('access', 'text', cause, false).hint).toBeUndefined();
  });

  it('gives the kind of a failure by its action, service for an action it does not know', () => {
    expect(failureKind('read')).toBe('fileRead');
    expect(failureKind('remove')).toBe('fileWrite');
    expect(failureKind('get info for')).toBe('fileOpen');
    expect(failureKind('abort the upload of')).toBe('service');
  });
});
