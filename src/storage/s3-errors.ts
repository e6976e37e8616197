// S3 errors: which ones may pass (retried), and the one-line PgStashError each becomes, translated once, here.
import { PgStashError, type ErrorKind } from '../common/errors.js';
import { NETWORK_CODES, TLS_CODE } from './network-errors.js';

/** What the SDK (and Node's network stack under it) puts on an error. */
interface SdkError {
  readonly name?: string;
  readonly code?: string;
  readonly message?: string;
  readonly $fault?: 'client' | 'server';
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $retryable?: unknown;
}

/** Service error codes that mean "slow down" or "try again". */
const THROTTLING = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequests',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'ConditionalRequestConflict',
  'OperationAborted',
]);

function sdkError(error: unknown): SdkError {
  return typeof error === 'object' && error !== null ? (error as SdkError) : {};
}

export function statusOf(error: unknown): number | undefined {
  return sdkError(error).$metadata?.httpStatusCode;
}

/** The service's error code ('NoSuchKey', 'AccessDenied', ...) or the network error's code. */
export function codeOf(error: unknown): string {
  const { name, code } = sdkError(error);
  if (code !== undefined && code !== '') return code;
  return name ?? 'Error';
}

/** Whether `error` may pass if the request is made again: throttling, 5xx, timeouts and connection resets. */
export function isTemporary(error: unknown): boolean {
  if (error instanceof PgStashError) return error.temporary;
  const code = codeOf(error);
  if (TLS_CODE.test(code)) return false;
  if (THROTTLING.has(code) || NETWORK_CODES.has(code)) return true;
  const status = statusOf(error);
  if (status === 429 || (status !== undefined && status >= 500)) return true;
  const { name, message } = sdkError(error);
  // The request handler's own timeouts, and a response cut short.
  if (name === 'TimeoutError' || name === 'AbortError') return name === 'TimeoutError';
  return /socket hang up|ECONNRESET|premature close|aborted/i.test(message ?? '');
}

/** A missing object (GET or HEAD), as opposed to a missing bucket. */
export function isMissingObject(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'NoSuchKey' || (code === 'NotFound' && statusOf(error) === 404);
}

/** A conditional write (`If-None-Match: *`) refused because the object exists. */
export function isPreconditionFailed(error: unknown): boolean {
  return codeOf(error) === 'PreconditionFailed' || statusOf(error) === 412;
}

/** What one failed request was: for the message, e.g. `unable to read 'https://host/bucket/key'`. */
export interface S3Failure {
  /** 'read', 'write', 'list', 'get info for', 'remove' */
  readonly action: string;
  readonly url: string;
  /** repoN, for the option names in hints. */
  readonly repo: string;
  /** The kind when nothing more specific applies (fileRead for a read, ...). */
  readonly kind: ErrorKind;
}

/**
 * The PgStashError for a failed S3 request: one line naming the URL, the service's error code and HTTP status,
 * with a hint for the errors a DBA can fix (credentials, bucket, region, certificate).
 */
export function translateS3Error(error: unknown, failure: S3Failure): PgStashError {
  if (error instanceof PgStashError) return error;
  const code = codeOf(error);
  const status = statusOf(error);
  const { message } = sdkError(error);
  const detail = [code, status === undefined ? undefined : `HTTP ${status}`].filter(Boolean).join(', ');
  // The SDK's message is sometimes the code again, or a whole XML body: keep its first line, when it says more.
  const said = (message ?? '').split('\n')[0]?.trim() ?? '';
  const reason = said !== '' && said !== code && said !== 'UnknownError' ? `${detail}: ${said}` : detail;
  const text = `unable to ${failure.action} '${failure.url}': ${reason}`;
  const make = (kind: ErrorKind, hint?: string) =>
    new PgStashError(kind, text, {
      cause: error,
      ...(hint === undefined ? {} : { hint }),
      temporary: isTemporary(error),
    });
  const { repo } = failure;
  switch (code) {
    case 'InvalidAccessKeyId':
    case 'XAdminUserNotFound': // versitygw's InvalidAccessKeyId (HTTP 404)
    case 'SignatureDoesNotMatch':
    case 'InvalidToken':
    case 'ExpiredToken':
    case 'TokenRefreshRequired':
      return make('access', `check ${repo}-s3-key, ${repo}-s3-key-secret and ${repo}-s3-token`);
    case 'AccessDenied':
    case 'AllAccessDisabled':
    case 'InvalidObjectState':
      return make(
        'access',
        `check that the credentials (${repo}-s3-key) may read, write, list and delete in ${repo}-s3-bucket`,
      );
    case 'NoSuchBucket':
      return make('pathMissing', `check ${repo}-s3-bucket, or create the bucket`);
    case 'AuthorizationHeaderMalformed':
    case 'PermanentRedirect':
    case 'IncorrectEndpoint':
    case 'InvalidRegion':
    case 'IllegalLocationConstraintException':
      return make(
        'service',
        `check ${repo}-s3-region and ${repo}-s3-endpoint: the bucket is in another region`,
      );
    case 'CredentialsProviderError':
      return make('access', `no S3 credentials found: set ${repo}-s3-key-type and its credentials`);
  }
  if (TLS_CODE.test(code)) {
    return make(
      'service',
      `the server's TLS certificate is not trusted: set ${repo}-storage-ca-file (or ${repo}-storage-ca-path) ` +
        'to the CA that signed it',
    );
  }
  if (status === 301) return make('service', `check ${repo}-s3-region and ${repo}-s3-endpoint`);
  // A request refused as malformed without a code: a HEAD's answer has no body to carry one, and what the service
  // refuses in a request pgstash signed is its region (AuthorizationHeaderMalformed), seen first by a HEAD.
  if (status === 400 && (code === 'Unknown' || code === 'BadRequest' || code === 'Error')) {
    return make(
      'service',
      `the service refused the request: check ${repo}-s3-region (the bucket's region) and ${repo}-s3-endpoint`,
    );
  }
  if (status === 403) return make('access', `check ${repo}-s3-key and ${repo}-s3-key-secret`);
  if (isTemporary(error)) {
    return make(
      'service',
      'the service did not answer in time or kept failing: raise io-timeout if it is slow, or try again later',
    );
  }
  return make(failure.kind);
}
