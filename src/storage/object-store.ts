// What every object-store driver (s3.ts, azure.ts, gcs.ts) does the same way: keys under a prefix, URLs for
// messages, one retried and translated request, and a read that opens a (resuming) body.
import { Readable } from 'node:stream';

import { fail, PgStashError } from '../common/errors.js';
import { checkedRange } from './read-range.js';
import { RetryBudget, withRetry } from './retry.js';

/** The key (object or blob name) of a driver path under `prefix`; rejects paths that could leave the prefix. */
export function objectKey(prefix: string, path: string): string {
  if (path !== '') {
    const segments = path.split('/');
    if (segments.some((segment) => segment === '' || segment === '.' || segment === '..'))
      fail('paramInvalid', `storage path '${path}' must be relative, without empty, '.' or '..' parts`);
  }
  if (prefix === '') return path;
  return path === '' ? prefix : `${prefix}/${path}`;
}

/** The key prefix of everything below `path` ('' for the root of a repository at the bucket's root). */
export function directoryPrefix(prefix: string, path: string): string {
  const key = objectKey(prefix, path);
  return key === '' ? '' : `${key}/`;
}

/** The URL of a driver path for messages, under the repository's `location`. */
export function objectUrl(location: string, path: string): string {
  return path === '' ? location : `${location}/${path}`;
}

export interface StoreRequestPolicy {
  readonly ioTimeoutMs: number;
  readonly isTemporary: (error: unknown) => boolean;
  /** The store's translation of a failure into one PgStashError naming the URL. */
  readonly translate: (error: unknown) => PgStashError;
}

/**
 * One request with retries within io-timeout; any failure comes out translated once (a cancelled one as the
 * signal left it).
 */
export async function storeRequest<T>(
  send: (signal: AbortSignal | undefined) => Promise<T>,
  signal: AbortSignal | undefined,
  policy: StoreRequestPolicy,
): Promise<T> {
  try {
    return await withRetry(() => send(signal), {
      budgetMs: policy.ioTimeoutMs,
      isTemporary: policy.isTemporary,
      signal,
    });
  } catch (error) {
    if (signal?.aborted === true) throw error;
    throw policy.translate(error);
  }
}

/**
 * How one store reads; the resume loop and its give-up rule are openRangedRead's, the same for every store.
 * `R` is the store's answer to one GET.
 */
export interface RangedReadHooks<R> {
  /** The object's URL, for messages. */
  readonly url: string;
  /** How long a read cut again and again without a byte between may go on trying (io-timeout). */
  readonly ioTimeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Whether the object exists (for a read of no bytes). */
  exists(): Promise<boolean>;
  /**
   * One GET from `offset`, at most `limit` bytes, of `version` when given (a resumed read stays on the version it
   * started on), retried within io-timeout; a failure comes out translated, the store's error as its cause.
   */
  get(offset: number, limit: number | undefined, version: string | undefined): Promise<R>;
  /** The version an answer holds (ETag, generation), to pin the GETs that resume it. */
  version(response: R): string | undefined;
  /** The body stream of an answer, not yet read. */
  bodyStream(response: R): Readable | undefined;
  /** The chunks of a body; default the stream itself (Azure's fails a body that stalls past io-timeout). */
  chunks?(body: Readable): AsyncIterable<Buffer>;
  /** Whether a failed GET's store error says the object is missing (not the bucket or container). */
  isMissing(cause: unknown): boolean;
  /** Whether a failed GET's store error says the range holds nothing (416, InvalidRange). */
  isEmptyRange(cause: unknown): boolean;
  /** Whether a body's failure may pass if read again (a reset or cut connection, a timeout). */
  isTemporary(error: unknown): boolean;
  /** The store's translation of a body's failure into one PgStashError naming the URL. */
  translate(error: unknown): PgStashError;
}

/** Driver.openRead of an object store: undefined when the object is missing. */
export async function openRangedRead<R>(
  options: { offset?: number; limit?: number } | undefined,
  hooks: RangedReadHooks<R>,
): Promise<Readable | undefined> {
  const { offset, limit } = checkedRange(options);
  if (limit === 0) return (await hooks.exists()) ? Readable.from([]) : undefined;
  const first = await getOrAbsent(hooks, offset, limit, undefined);
  if (first === undefined) return undefined;
  if (first === 'empty') return Readable.from([]);
  // Until the caller reads, nothing listens to the first answer's body: a connection reset in that window (the
  // caller opens a read, then builds its pipeline) emits 'error' with no listener, which Node 22 and 24 raise as an
  // uncaught exception ("aborted"): the command died with 124. The error stays on the stream, so the body's first
  // read meets it and resumes like any cut body.
  hooks.bodyStream(first)?.on('error', ignoreUntilRead);
  return Readable.from(resumingBody(hooks, first, offset, limit), { objectMode: false });
}

function ignoreUntilRead(): void {}

/** The failure a store reported under a translated one (or `error` itself when it was not translated). */
export function storeCause(error: unknown): unknown {
  return error instanceof PgStashError ? error.cause : error;
}

/** One GET: undefined when the object is missing, 'empty' when the range holds nothing; other failures thrown. */
async function getOrAbsent<R>(
  hooks: RangedReadHooks<R>,
  offset: number,
  limit: number | undefined,
  version: string | undefined,
): Promise<R | 'empty' | undefined> {
  try {
    return await hooks.get(offset, limit, version);
  } catch (error) {
    const cause = storeCause(error);
    if (hooks.isMissing(cause)) return undefined;
    // A range past the end (or any range of an empty object): the object exists, the range holds nothing.
    if (hooks.isEmptyRange(cause)) return 'empty';
    throw error;
  }
}

/**
 * The body of a GET; when it fails mid-way (a reset, a cut, a stall), another GET continues from the byte reached,
 * pinned to the same version. Bodies cut again without a byte between end the read under the same rule as failed
 * requests (RetryBudget: io-timeout counted from the failure, a stall having already waited io-timeout by itself,
 * then two more tries), never a loop on a body cut at the same byte every time.
 */
async function* resumingBody<R>(
  hooks: RangedReadHooks<R>,
  first: R,
  offset: number,
  limit: number | undefined,
): AsyncGenerator<Buffer> {
  const { signal } = hooks;
  const version = hooks.version(first);
  let response = first;
  let done = 0;
  let budget: RetryBudget | undefined;
  let doneAtFailure = 0;
  for (;;) {
    const body = hooks.bodyStream(response);
    if (body === undefined) return;
    try {
      for await (const chunk of hooks.chunks?.(body) ?? body) {
        done += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      return;
    } catch (error) {
      // A cancelled read ends as the signal left it, as a cancelled request does (storeRequest).
      if (signal?.aborted === true) throw error;
      if (!hooks.isTemporary(error)) throw hooks.translate(error);
      if (budget === undefined) budget = new RetryBudget(hooks.ioTimeoutMs, signal);
      else if (done > doneAtFailure) budget.progress();
      doneAtFailure = done;
      try {
        await budget.wait(error);
      } catch (stopped) {
        // The budget spent (the failure itself comes back), or the signal's reason.
        throw stopped === error ? hooks.translate(error) : stopped;
      }
      const next = await getOrAbsent(
        hooks,
        offset + done,
        limit === undefined ? undefined : limit - done,
        version,
      );
      if (next === undefined || next === 'empty')
        throw new PgStashError('fileRead', `unable to read '${hooks.url}': it changed while being read`);
      response = next;
    }
  }
}

/** Driver.read from Driver.openRead: the whole stream in one buffer (undefined when missing). */
export async function collectRead(stream: Readable | undefined): Promise<Buffer | undefined> {
  if (stream === undefined) return undefined;
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}
