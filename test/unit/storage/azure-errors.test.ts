// Azure error classification and translation: which failures are retried, and the one line each becomes.
import { describe, expect, it } from 'vitest';

import { isTemporary, translateAzureError } from '../../../src/storage/azure-errors.js';

/** The fields the SDK's RestError carries (a HEAD answer has its code only in details.errorCode). */
const rest = (statusCode: number | undefined, code?: string, message = '') => ({
  name: 'RestError',
  statusCode,
  message,
  ...(code === undefined ? {} : { code, details: { errorCode: code } }),
});
const failure = {
  action: 'read',
  url: 'https://acct.blob.example/c/repo/file',
  repo: 'repo2',
  kind: 'fileRead',
} as const;

describe('azure errors', () => {
  it.each([
    [rest(503, 'ServerBusy'), true],
    [rest(500, 'InternalError'), true],
    [rest(429), true],
    [rest(408), true],
    [{ name: 'RestError', code: 'ECONNRESET', message: 'read ECONNRESET' }, true],
    [{ name: 'AbortError', message: 'The operation was aborted.' }, true],
    [{ name: 'RestError', code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND' }, false],
    [{ name: 'RestError', code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'self-signed certificate' }, false],
    [rest(403, 'AuthenticationFailed'), false],
    [rest(404, 'ContainerNotFound'), false],
  ])('classifies %o as temporary: %s', (error, temporary) => {
    expect(isTemporary(error)).toBe(temporary);
  });

  it('names the URL, the code and the status in one line, with a hint naming the options', () => {
    const error = translateAzureError(
      rest(403, 'AuthenticationFailed', 'Server failed to authenticate.\nRequestId:1'),
      failure,
    );
    expect(error.kind).toBe('access');
    expect(error.message).toBe(
      "unable to read 'https://acct.blob.example/c/repo/file': AuthenticationFailed, HTTP 403: Server failed to authenticate.",
    );
    expect(error.hint).toBe('check repo2-azure-account, repo2-azure-key and repo2-azure-key-type');
    expect(error.temporary).toBe(false);
  });

  it.each([
    [rest(404, 'ContainerNotFound'), 'pathMissing', 'repo2-azure-container'],
    [rest(403, 'AuthorizationPermissionMismatch'), 'access', 'may read, write, list and delete'],
    [{ name: 'RestError', code: 'ENOTFOUND' }, 'service', 'repo2-azure-endpoint'],
    [rest(503, 'ServerBusy'), 'service', 'io-timeout'],
    [rest(400, 'InvalidHeaderValue'), 'fileRead', undefined],
  ])('translates %o to %s', (cause, kind, hint) => {
    const error = translateAzureError(cause, failure);
    expect(error.kind).toBe(kind);
    if (hint === undefined) expect(error.hint).toBeUndefined();
    else expect(error.hint).toContain(hint);
  });
});
