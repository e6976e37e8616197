// S3 errors: which ones may pass (retried), and the one-line PgStashError each becomes, translated once, here.
import { PgStashError, type ErrorKind } from '../common/errors.js';
import { NETWORK_CODES, TLS_CODE } from './network-errors.js';
import {
  RETRIES_SPENT_HINT,
  serviceFailureText,
  storeError,
  untrustedTlsHint,
  type StoreFailure,
} from './store-errors.js';

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

/** A ranged GET refused because the range starts at or past the end (any range of an empty object). */
export function isEmptyRange(error: unknown): boolean {
  return codeOf(error) === 'InvalidRange' || statusOf(error) === 416;
}

/** A conditional write (`If-None-Match: *`) refused because the object exists. */
export function isPreconditionFailed(error: unknown): boolean {
  return codeOf(error) === 'PreconditionFailed' || statusOf(error) === 412;
}

/**
 * The PgStashError for a failed S3 request: one line naming the URL, the service's error code and HTTP status,
 * with a hint for the errors a DBA can fix (credentials, bucket, region, certificate).
 */
export function translateS3Error(error: unknown, failure: StoreFailure): PgStashError {
  if (error instanceof PgStashError) return error;
  const code = codeOf(error);
  const status = statusOf(error);
  // The SDK's message is sometimes the code again ('UnknownError' when it has none), or a whole XML body.
  const text = serviceFailureText(failure, code, status, sdkError(error).message, ['UnknownError']);
  const make = (kind: ErrorKind, hint?: string) => storeError(kind, text, error, isTemporary(error), hint);
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
    return make('service', untrustedTlsHint(repo));
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
    return make('service', RETRIES_SPENT_HINT);
  }
  return make(failure.kind);
}
