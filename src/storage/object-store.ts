// What every object-store driver (s3.ts, azure.ts, gcs.ts) does the same way: keys under a prefix, URLs for
// messages, one retried and translated request, and a read that opens a (resuming) body.
import { Readable } from 'node:stream';

import { fail, type PgStashError } from '../common/errors.js';
import { checkedRange } from './read-range.js';
import { withRetry } from './retry.js';

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

/** How one store reads: its ranged GET, and the body of a first answer (resumed after a cut, its own way). */
export interface RangedReadHooks<R> {
  /** Whether the object exists (for a read of no bytes). */
  exists(): Promise<boolean>;
  /** One GET from `offset`, at most `limit` bytes: undefined when missing, 'empty' when the range holds nothing. */
  get(offset: number, limit: number | undefined): Promise<R | 'empty' | undefined>;
  body(first: R, offset: number, limit: number | undefined): AsyncGenerator<Buffer>;
  /** The body stream of an answer, not yet read. */
  bodyStream(response: R): Readable | undefined;
}

/** Driver.openRead of an object store: undefined when the object is missing. */
export async function openRangedRead<R>(
  options: { offset?: number; limit?: number } | undefined,
  hooks: RangedReadHooks<R>,
): Promise<Readable | undefined> {
  const { offset, limit } = checkedRange(options);
  if (limit === 0) return (await hooks.exists()) ? Readable.from([]) : undefined;
  const first = await hooks.get(offset, limit);
  if (first === undefined) return undefined;
  if (first === 'empty') return Readable.from([]);
  // Until the caller reads, nothing listens to the first answer's body: a connection reset in that window (the
  // caller opens a read, then builds its pipeline) emits 'error' with no listener, which Node 22 and 24 raise as an
  // uncaught exception ("aborted"): the command died with 124. The error stays on the stream, so the body's first
  // read meets it and resumes like any cut body.
  hooks.bodyStream(first)?.on('error', ignoreUntilRead);
  return Readable.from(hooks.body(first, offset, limit), { objectMode: false });
}

function ignoreUntilRead(): void {}

/** Driver.read from Driver.openRead: the whole stream in one buffer (undefined when missing). */
export async function collectRead(stream: Readable | undefined): Promise<Buffer | undefined> {
  if (stream === undefined) return undefined;
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}
