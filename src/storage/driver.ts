// The storage driver contract every repository backend (posix, S3, Azure, GCS) implements.
import type { Readable, Writable } from 'node:stream';

/** What a driver can do; callers check capabilities, never the driver type. */
export interface Capabilities {
  /** Paths are real filesystem paths (posix): symlinks, modes and fsync are meaningful. */
  readonly path: boolean;
  /** A finished write appears whole or not at all. Every driver must provide this. */
  readonly atomicWrite: true;
  /** `move` is cheap and atomic (a rename), not a copy. */
  readonly atomicMove: boolean;
  /**
   * Files a restore worker reads at once from this store. An object store answers each request after a round trip
   * (a millisecond locally, tens of them on a cloud) that a worker hides by overlapping files; absent: two, which
   * is what a local file system needs (one file waits for the decompressor while the thread works on the other).
   */
  readonly readsInFlight?: number;
  /**
   * Where large writes go up in parts (object stores): the part size the driver uses and the store's limits.
   * A write holds at most `size` x (`inFlight` + 1) bytes in memory, however large the file.
   */
  readonly parts?: {
    readonly size: number;
    readonly inFlight: number;
    readonly minSize: number;
    readonly maxSize: number;
    readonly maxCount: number;
  };
}

/** Options every request accepts. */
export interface RequestOptions {
  /**
   * Cancels the request (and its retries): it rejects with the signal's reason. Object stores pass it to every
   * request they make; posix calls, short and local, may finish first.
   */
  readonly signal?: AbortSignal;
}

/** A byte range: from `offset` (default 0), at most `limit` bytes (default: to the end). */
export interface ReadOptions extends RequestOptions {
  readonly offset?: number;
  readonly limit?: number;
  /**
   * openRead on a file system (capabilities.path): bytes per read, each read only when the reader asks, nothing
   * ahead (default: the driver's own large reads, read ahead). For one of many files read at once a little at a
   * time (a block-stored file's parts), the file kept open; object stores ignore it.
   */
  readonly readSize?: number;
}

export interface StorageInfo {
  /** Name relative to the listed path (for list) or the path itself (for info). */
  readonly name: string;
  readonly type: 'file' | 'path' | 'link';
  readonly size: number;
  /** Modification time in milliseconds since the epoch. */
  readonly mtimeMs: number;
  readonly mode?: number;
}

export interface WriteOptions extends RequestOptions {
  /** File mode for posix-like drivers (default 0o640). */
  readonly mode?: number;
  /** Create missing parent directories (default true). */
  readonly createParent?: boolean;
  /**
   * Make the file durable before the write is reported finished (default true). With false, the file is
   * durable only after `flush()`: for callers that write many files and commit them together (a backup).
   */
  readonly sync?: boolean;
  /**
   * Create the file only if nothing is at `path` when the write commits (default false): if something is, the
   * commit fails with fileExists (93) and leaves it untouched. Atomic against any number of concurrent writers,
   * also on other hosts: exactly one of them creates the file. This is the conditional write every object store
   * offers (S3 and Azure `If-None-Match: *`, GCS `ifGenerationMatch=0`); posix links the finished, synced temp
   * file to the final name (link(2) fails with EEXIST), so no partial file is ever visible under that name.
   */
  readonly ifAbsent?: boolean;
}

/**
 * A storage backend. Paths are relative to the driver's root, '/'-separated, without a leading '/' and without
 * empty, '.' or '..' parts (such a path is rejected with paramInvalid); '' is the root itself.
 *
 * Behaviour every implementation guarantees (the conformance suite in test/conformance checks it):
 * - `info` of a missing path resolves to undefined. It does not follow a symlink (type 'link'). A directory has
 *   type 'path' where capabilities.path; an object store may resolve a mere prefix to undefined.
 * - `list` of a missing path yields nothing; it yields direct children only (directories as type 'path'), in no
 *   defined order, and never an in-progress write.
 * - `openRead` of a missing file resolves to undefined; `offset`/`limit` select a byte range (past the end: empty).
 * - `read` resolves to what `openRead` with the same range would stream, in one buffer (undefined when missing).
 * - `openWrite` returns a stream whose data becomes visible under `path`, whole, only when the write is committed,
 *   and every driver commits inside the stream's `_final`: so 'finish' (and `await pipeline(...)`) means the data
 *   is durable and visible. Destroying the stream before that (with or without an error) aborts the write and
 *   leaves nothing at `path`; an earlier version of the file, if any, stays untouched until the commit replaces it.
 *   Missing parents are created unless `createParent` is false, which makes a missing parent a pathMissing error.
 *   With `ifAbsent`, the commit fails with fileExists when `path` exists, and of concurrent such writes of one
 *   path exactly one succeeds (what archive-push's claim on a WAL name relies on, repo/archive-claim.ts).
 * - `move` creates the parent of `to` if needed; a missing `from` is a fileMissing error.
 * - `remove` of a missing file succeeds; `removeTree` of a missing path succeeds (and of a file removes it).
 * - Errors are PgStashError (fileOpen, fileRead, fileWrite, pathCreate, pathMissing, access, service ...),
 *   translated once, inside the driver, and their messages name the full location (absolute path or URL).
 *   An error that may pass if the caller tries again later (the service throttled or failed after the driver's
 *   own retries within io-timeout, the network went away) has `temporary` set; any other is permanent (bad
 *   credentials, access denied, a missing bucket): a caller with several repositories moves on at once.
 * - `move`, `makePath` and `localPath` exist only where the store has them (posix); an object store has no
 *   directories, no rename and no local path. Callers check (`capabilities.atomicMove`, `?.`).
 */
export interface Driver {
  readonly capabilities: Capabilities;
  /** Human-readable location for messages, e.g. '/var/lib/pgstash' or 's3://bucket/prefix'. */
  readonly location: string;
  info(path: string): Promise<StorageInfo | undefined>;
  list(path: string, options?: { prefix?: string }): AsyncIterable<StorageInfo>;
  openRead(path: string, options?: ReadOptions): Promise<Readable | undefined>;
  /** A byte range (default: the whole file) in one buffer: for small files, where a stream costs more. */
  read(path: string, options?: ReadOptions): Promise<Buffer | undefined>;
  openWrite(path: string, options?: WriteOptions): Promise<Writable>;
  /** Atomically replaces `to` with `from` (a rename); only where capabilities.atomicMove. */
  move?(from: string, to: string): Promise<void>;
  remove(path: string, options?: RequestOptions): Promise<void>;
  /** Removes `path` and everything below it (object stores: in batches, one request per 1,000 objects). */
  removeTree(path: string, options?: RequestOptions): Promise<void>;
  /** Create a directory (and parents); absent where there are no directories (object stores). */
  makePath?(path: string): Promise<void>;
  /** Makes every earlier write made with `sync: false` durable. A no-op where every write is durable at once. */
  flush(): Promise<void>;
  /**
   * Where `path` is on this host's file system (capabilities.path), so that a signal handler can remove a file
   * left between two steps (storage/temp-files.ts); undefined for an object store.
   */
  localPath?(path: string): string | undefined;
}
