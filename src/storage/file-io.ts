// An open file with the operations the storage layer uses, through libuv's thread pool or with blocking calls.
//
// Why two flavours: a blocking call stalls everything else on its thread, so the main thread goes through libuv's
// pool. A worker thread that only copies files gains nothing from that: each hand-off to the pool and back cost
// about 25 times the system call itself on the 2-core machine we measure on (open + close of a relation file:
// 250 µs of CPU through the pool, 10 µs blocking), and a backup makes ten such calls per file. (archive-push and
// archive-get, one file per process, were measured both ways too: no difference, so they keep the pool.)
import {
  closeSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  linkSync,
  openSync,
  readSync,
  renameSync,
  writevSync,
  type Stats,
} from 'node:fs';
import { link, open, rename, type FileHandle } from 'node:fs/promises';
import { errnoOf, wrapError } from '../common/errors.js';
import { runParallel } from '../io/parallel.js';

export interface FileIo {
  /** The read size that costs least in this flavour (see the classes). */
  readonly readSize: number;
  /** Bytes read into `buffer` at `offset`; 0 at the end of the file. */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Bytes written (may be fewer than given: the caller writes the rest). */
  writev(buffers: readonly Buffer[]): Promise<number>;
  stat(): Promise<Stats>;
  chmod(mode: number): Promise<void>;
  chown(uid: number, gid: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Opens `path` with fs flags ('r', 'wx', ...); `blocking` selects blocking system calls. */
export async function openFile(
  path: string,
  flags: string,
  options: { mode?: number; blocking: boolean },
): Promise<FileIo> {
  if (options.blocking) return new BlockingFile(openSync(path, flags, options.mode));
  return new PooledFile(await open(path, flags, options.mode));
}

export async function renameFile(from: string, to: string, blocking: boolean): Promise<void> {
  if (blocking) renameSync(from, to);
  else await rename(from, to);
}

/** Gives `from` the second name `to`; fails with EEXIST when `to` exists (never replaces it). */
export async function linkFile(from: string, to: string, blocking: boolean): Promise<void> {
  if (blocking) linkSync(from, to);
  else await link(from, to);
}

/** fsyncs that syncPaths keeps in flight. */
const SYNC_CONCURRENCY = 16;

/** A missing path, or one whose parent is a file (so it cannot exist, as on an object store). */
export function isMissing(error: unknown): boolean {
  const code = errnoOf(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Makes many files or directories durable: SYNC_CONCURRENCY fsyncs in flight through libuv's pool, even for a
 * caller whose other I/O blocks, since together they finish far sooner than one after another. With
 * `skipMissing`, a path removed since it was written has nothing left to sync. Failures are fileWrite errors
 * naming the path.
 */
export async function syncPaths(paths: readonly string[], options: { skipMissing: boolean }): Promise<void> {
  await runParallel(paths, {
    concurrency: SYNC_CONCURRENCY,
    worker: async (path) => {
      try {
        await syncPath(path, false);
      } catch (error) {
        if (!(options.skipMissing && isMissing(error))) {
          throw wrapError('fileWrite', `unable to sync '${path}'`, error);
        }
      }
    },
  });
}

/** fsync of a file or directory by path (a directory, so that a rename or create in it survives a crash). */
export async function syncPath(path: string, blocking: boolean): Promise<void> {
  const file = await openFile(path, 'r', { blocking });
  try {
    await file.sync();
  } finally {
    await file.close();
  }
}

/** What is left of `buffers` after the first `written` bytes (a short writev). */
export function unwritten(buffers: readonly Buffer[], written: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = written;
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}

class PooledFile implements FileIo {
  /** Large: every read is a hand-off to the pool and back. */
  readonly readSize = 1024 * 1024;
  readonly #handle: FileHandle;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    return (await this.#handle.read(buffer, offset, length, position)).bytesRead;
  }

  async writev(buffers: readonly Buffer[]): Promise<number> {
    return (await this.#handle.writev(buffers as Buffer[])).bytesWritten;
  }

  stat(): Promise<Stats> {
    return this.#handle.stat();
  }

  chmod(mode: number): Promise<void> {
    return this.#handle.chmod(mode);
  }

  chown(uid: number, gid: number): Promise<void> {
    return this.#handle.chown(uid, gid);
  }

  sync(): Promise<void> {
    return this.#handle.sync();
  }

  close(): Promise<void> {
    return this.#handle.close();
  }
}

/** The same operations as blocking system calls; errors still arrive as rejections. */
class BlockingFile implements FileIo {
  /**
   * Small: measured here, reading a cached 256 MiB relation with blocking reads of 128 KiB took 35 ms of system
   * time, with 1 MiB reads 180 ms (the cost jumps above 128 KiB per read; with no hand-off, more reads are cheap).
   */
  readonly readSize = 128 * 1024;
  readonly #fd: number;

  constructor(fd: number) {
    this.#fd = fd;
  }

  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    return readSync(this.#fd, buffer, offset, length, position);
  }

  async writev(buffers: readonly Buffer[]): Promise<number> {
    return writevSync(this.#fd, buffers as Buffer[]);
  }

  async stat(): Promise<Stats> {
    return fstatSync(this.#fd);
  }

  async chmod(mode: number): Promise<void> {
    fchmodSync(this.#fd, mode);
  }

  async chown(uid: number, gid: number): Promise<void> {
    fchownSync(this.#fd, uid, gid);
  }

  async sync(): Promise<void> {
    fsyncSync(this.#fd);
  }

  async close(): Promise<void> {
    closeSync(this.#fd);
  }
}
