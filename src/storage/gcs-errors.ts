// GCS errors: which ones may pass (retried), and the one-line PgStashError each becomes, translated once, here.
import { PgStashError, type ErrorKind } from '../common/errors.js';
import { GcsServiceError } from './gcs-client.js';
import { NETWORK_CODES, TLS_CODE } from './network-errors.js';
import { untrustedTlsHint, type StoreFailure } from './store-errors.js';

/** Node's network error code, or '' for anything else. */
function networkCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : '';
}

/** Whether `error` may pass if the request is made again: 408, 429, 5xx, timeouts and connection resets. */
export function isTemporary(error: unknown): boolean {
  if (error instanceof PgStashError) return error.temporary;
  if (error instanceof GcsServiceError)
    return error.status === 408 || error.status === 429 || error.status >= 500;
  const code = networkCode(error);
  if (TLS_CODE.test(code)) return false;
  if (NETWORK_CODES.has(code)) return true;
  const { name, message } = (error ?? {}) as { name?: string; message?: string };
  if (name === 'AbortError') return false;
  return /socket hang up|ECONNRESET|premature close|aborted/i.test(message ?? '');
}

/**
 * A missing object, as opposed to a missing bucket: GCS says which ("No such object: <bucket>/<name>" against
 * "The specified bucket does not exist."); a 404 that does not say the bucket is missing is the object's (the
 * object's message names the bucket, so the word alone tells nothing).
 */
export function isMissingObject(error: unknown): boolean {
  const cause = error instanceof PgStashError ? error.cause : error;
  return (
    cause instanceof GcsServiceError &&
    cause.status === 404 &&
    !/bucket does not exist|bucket not found|no such bucket/i.test(cause.message)
  );
}

/** A ranged GET refused because the range starts at or past the end (any range of an empty object). */
export function isEmptyRange(error: unknown): boolean {
  const cause = error instanceof PgStashError ? error.cause : error;
  return cause instanceof GcsServiceError && cause.status === 416;
}

/** A conditional write (`ifGenerationMatch=0`) refused because the object exists. */
export function isPreconditionFailed(error: unknown): boolean {
  const cause = error instanceof PgStashError ? error.cause : error;
  return cause instanceof GcsServiceError && cause.status === 412;
}

/** What one failed request was: for the message, e.g. `unable to read 'gs://bucket/repo/file'`. */
export interface GcsFailure extends StoreFailure {
  /** The service's endpoint, named when it could not be reached. */
  readonly endpoint: string;
}

/**
 * The PgStashError for a failed GCS request: one line naming the gs:// URL, the service's reason and HTTP status
 * (or the network error and the endpoint), with a hint for what a DBA can fix.
 */
export function translateGcsError(error: unknown, failure: GcsFailure): PgStashError {
  if (error instanceof PgStashError) return error;
  const { repo } = failure;
  const temporary = isTemporary(error);
  if (error instanceof GcsServiceError) {
    const detail = [error.reason, `HTTP ${error.status}`].filter(Boolean).join(', ');
    const text = `unable to ${failure.action} '${failure.url}': ${detail}${error.message === '' ? '' : `: ${error.message}`}`;
    const make = (kind: ErrorKind, hint?: string) =>
      new PgStashError(kind, text, { cause: error, temporary, ...(hint === undefined ? {} : { hint }) });
    if (error.status === 401)
      return make(
        'access',
        `check ${repo}-gcs-key and ${repo}-gcs-key-type: the service refused the credentials`,
      );
    if (error.status === 403) {
      return make(
        'access',
        `check that the service account may read, write, list and delete objects in ${repo}-gcs-bucket`,
      );
    }
    if (error.status === 404) return make('pathMissing', `check ${repo}-gcs-bucket, or create the bucket`);
    if (temporary) {
      return make(
        'service',
        'the service kept failing: raise io-timeout if it is slow or throttled, or try again later',
      );
    }
    return make(failure.kind);
  }
  const code = networkCode(error);
  const said = ((error as { message?: string } | undefined)?.message ?? String(error)).split('\n')[0] ?? '';
  const reason = code !== '' && !said.includes(code) ? `${code}: ${said}` : said;
  const text = `unable to ${failure.action} '${failure.url}' (at ${failure.endpoint}): ${reason}`;
  if (TLS_CODE.test(code)) {
    return new PgStashError('service', text, {
      cause: error,
      hint: untrustedTlsHint(repo),
    });
  }
  const hint = `the service did not answer within io-timeout: check ${repo}-gcs-endpoint, or raise io-timeout`;
  return new PgStashError(temporary ? 'service' : failure.kind, text, {
    cause: error,
    temporary,
    ...(temporary ? { hint } : {}),
  });
}
