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

export interface WriteOptions {
  /** File mode for posix-like drivers (default 0o640). */
  readonly mode?: number;
  /** Create missing parent directories (default true). */
  readonly createParent?: boolean;
  /** fsync the file and its directory before the write is reported finished (default true). */
  readonly sync?: boolean;
}

/**
 * A storage backend. Paths are relative to the driver's root, '/'-separated, without a leading '/'.
 *
 * Behaviour every implementation guarantees (the conformance suite in test/conformance checks it):
 * - `info` of a missing path resolves to undefined.
 * - `list` of a missing path yields nothing; it yields direct children only, in no defined order.
 * - `openRead` of a missing file resolves to undefined.
 * - `openWrite` returns a stream whose data is visible under `path` only after it emits 'finish'
 *   (or `close` for object stores once the upload is committed); destroying it with an error aborts the write
 *   and leaves nothing at `path` (an earlier version of the file, if any, stays untouched).
 * - `remove` of a missing file succeeds; `removeTree` of a missing path succeeds.
 * - Errors are PgStashError (fileOpen, fileRead, fileWrite, pathCreate, access, service ...), translated once,
 *   inside the driver.
 */
export interface Driver {
  readonly capabilities: Capabilities;
  /** Human-readable location for messages, e.g. '/var/lib/pgstash' or 's3://bucket/prefix'. */
  readonly location: string;
  info(path: string): Promise<StorageInfo | undefined>;
  list(path: string, options?: { prefix?: string }): AsyncIterable<StorageInfo>;
  openRead(path: string, options?: { offset?: number; limit?: number }): Promise<Readable | undefined>;
  openWrite(path: string, options?: WriteOptions): Promise<Writable>;
  /** Atomically replaces `to` with `from` where capabilities.atomicMove, otherwise copy then remove. */
  move(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  removeTree(path: string): Promise<void>;
  /** Create a directory (and parents). A no-op for object stores. */
  makePath(path: string): Promise<void>;
}
