// Azure Blob errors: which ones may pass (retried), and the one-line PgStashError each becomes, translated once.
import { PgStashError, type ErrorKind } from '../common/errors.js';
import { NETWORK_CODES, TLS_CODE } from './network-errors.js';
import {
  RETRIES_SPENT_HINT,
  serviceFailureText,
  storeError,
  untrustedTlsHint,
  type StoreFailure,
} from './store-errors.js';

/** What the SDK's RestError (and Node's network stack under it) carries. */
interface RestErrorLike {
  readonly name?: string;
  readonly code?: string;
  readonly statusCode?: number;
  readonly message?: string;
  /** The response's headers: `errorCode` is x-ms-error-code, the only code a HEAD answer has. */
  readonly details?: { readonly errorCode?: string };
}

/** Service error codes that mean "slow down" or "try again". */
const TEMPORARY = new Set(['ServerBusy', 'InternalError', 'OperationTimedOut', 'TooManyRequests']);

/** Credentials the service did not accept (a wrong key, an expired or malformed SAS). */
const BAD_CREDENTIALS = new Set([
  'AuthenticationFailed',
  'AuthorizationFailure',
  'InvalidAuthenticationInfo',
  'NoAuthenticationInformation',
]);

function restError(error: unknown): RestErrorLike {
  return typeof error === 'object' && error !== null ? (error as RestErrorLike) : {};
}

export function statusOf(error: unknown): number | undefined {
  return restError(error).statusCode;
}

/** The service's error code ('BlobNotFound', 'ContainerNotFound', ...) or the network error's code. */
export function codeOf(error: unknown): string {
  const { name, code, details } = restError(error);
  if (details?.errorCode !== undefined && details.errorCode !== '') return details.errorCode;
  if (code !== undefined && code !== '') return code;
  return name ?? 'Error';
}

/**
 * Whether `error` may pass if the request is made again: throttling, 5xx, timeouts and connection resets. The
 * caller has already ruled out its own cancellation, so an AbortError here is the request's own time limit.
 */
export function isTemporary(error: unknown): boolean {
  if (error instanceof PgStashError) return error.temporary;
  const code = codeOf(error);
  if (TLS_CODE.test(code)) return false;
  // A host name that does not resolve is a wrong account or endpoint, not a passing failure.
  if (code === 'ENOTFOUND') return false;
  if (TEMPORARY.has(code) || NETWORK_CODES.has(code)) return true;
  const status = statusOf(error);
  if (status === 408 || status === 429 || (status !== undefined && status >= 500)) return true;
  if (code === 'AbortError' || code === 'REQUEST_SEND_ERROR') return true;
  return /socket hang up|ECONNRESET|premature close|aborted|received less data/i.test(
    restError(error).message ?? '',
  );
}

/** A missing blob (GET or HEAD), as opposed to a missing container. */
export function isMissingBlob(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'BlobNotFound' || (statusOf(error) === 404 && code === 'RestError');
}

/** A ranged GET refused because the range starts at or past the end (any range of an empty object). */
export function isEmptyRange(error: unknown): boolean {
  return codeOf(error) === 'InvalidRange' || statusOf(error) === 416;
}

/** A conditional create (`If-None-Match: *`) refused because the blob exists (409 on a PUT, 412 otherwise). */
export function isAlreadyExisting(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'BlobAlreadyExists' || code === 'ConditionNotMet' || statusOf(error) === 412;
}

/**
 * The PgStashError for a failed Azure request: one line naming the URL, the service's error code and HTTP status,
 * with a hint for the errors a DBA can fix (key, account, container, endpoint, certificate).
 */
export function translateAzureError(error: unknown, failure: StoreFailure): PgStashError {
  if (error instanceof PgStashError) return error;
  const code = codeOf(error);
  const status = statusOf(error);
  const text = serviceFailureText(failure, code, status, restError(error).message);
  const make = (kind: ErrorKind, hint?: string) => storeError(kind, text, error, isTemporary(error), hint);
  const { repo } = failure;
  if (BAD_CREDENTIALS.has(code))
    return make('access', `check ${repo}-azure-account, ${repo}-azure-key and ${repo}-azure-key-type`);
  if (code.startsWith('Authorization') || code === 'InsufficientAccountPermissions')
    return make(
      'access',
      `check that ${repo}-azure-key may read, write, list and delete in ${repo}-azure-container`,
    );
  // repoN-azure-key-type=auto: @azure/identity found no managed identity, or its endpoint refused a token.
  if (code === 'CredentialUnavailableError' || code === 'AuthenticationError')
    return make(
      'access',
      `check the host's managed identity (the instance metadata service, or IDENTITY_ENDPOINT), or set ${repo}-azure-key-type=shared or sas`,
    );
  if (code === 'ContainerNotFound')
    return make('pathMissing', `check ${repo}-azure-container, or create the container`);
  if (code === 'ResourceNotFound' || code === 'AccountIsDisabled' || code === 'ENOTFOUND')
    return make('service', `check ${repo}-azure-account and ${repo}-azure-endpoint`);
  if (code === 'InvalidResourceName') return make('service', `check ${repo}-azure-container`);
  if (TLS_CODE.test(code)) {
    return make('service', untrustedTlsHint(repo));
  }
  if (status === 403) return make('access', `check ${repo}-azure-key and ${repo}-azure-key-type`);
  if (isTemporary(error)) {
    return make('service', RETRIES_SPENT_HINT);
  }
  return make(failure.kind);
}
