// What the object stores' error translations (s3-errors.ts, azure-errors.ts, gcs-errors.ts) share: the failed
// request, its one-line message, and the hints that are the same for every store.
import { PgStashError, type ErrorKind } from '../common/errors.js';

/** What one failed request was: for the message, e.g. `unable to read 'https://host/bucket/key'`. */
export interface StoreFailure {
  /** 'read', 'write', 'list', 'get info for', 'remove' */
  readonly action: string;
  /** Never with a secret (a SAS token). */
  readonly url: string;
  /** repoN, for the option names in hints. */
  readonly repo: string;
  /** The kind when nothing more specific applies (fileRead for a read, ...). */
  readonly kind: ErrorKind;
}

/** The hint for a certificate the repository's trust does not accept. */
export function untrustedTlsHint(repo: string): string {
  return (
    `the server's TLS certificate is not trusted: set ${repo}-storage-ca-file (or ${repo}-storage-ca-path) ` +
    'to the CA that signed it'
  );
}

/** The hint for a failure that may pass, once io-timeout is spent on retries. */
export const RETRIES_SPENT_HINT =
  'the service did not answer in time or kept failing: raise io-timeout if it is slow, or try again later';

/**
 * The one-line message of a service's error: `unable to <action> '<url>': <code>, HTTP <status>: <first line of
 * the service's message>`, the message left out when it says nothing more (empty, the code again, or one of
 * `saysNothing`).
 */
export function serviceFailureText(
  failure: StoreFailure,
  code: string,
  status: number | undefined,
  message: string | undefined,
  saysNothing: readonly string[] = [],
): string {
  const detail = [code, status === undefined ? undefined : `HTTP ${status}`].filter(Boolean).join(', ');
  // Services' messages run long (an XML body, a request id and time on other lines): keep the first line.
  const said = (message ?? '').split('\n')[0]?.trim() ?? '';
  const reason = said !== '' && said !== code && !saysNothing.includes(said) ? `${detail}: ${said}` : detail;
  return `unable to ${failure.action} '${failure.url}': ${reason}`;
}

/** The PgStashError of a failed request, its `hint` if any, `temporary` when it may pass. */
export function storeError(
  kind: ErrorKind,
  text: string,
  cause: unknown,
  temporary: boolean,
  hint?: string,
): PgStashError {
  return new PgStashError(kind, text, { cause, ...(hint === undefined ? {} : { hint }), temporary });
}

/** The kind of a failed request when nothing more specific applies, by its action. */
const KIND_OF: Readonly<Record<string, ErrorKind>> = {
  read: 'fileRead',
  write: 'fileWrite',
  remove: 'fileWrite',
  list: 'fileOpen',
  'get info for': 'fileOpen',
};

export function failureKind(action: string): ErrorKind {
  return KIND_OF[action] ?? 'service';
}
