// The posix storage driver: a repository on a local or mounted filesystem, with atomic, durable writes.
import { randomBytes } from 'node:crypto';
import { chmod, chown, lstat, mkdir, opendir, rename, rm, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { Writable, type Readable } from 'node:stream';

import { errnoOf, fail, PgStashError, wrapError } from '../common/errors.js';
import type { FileOwner } from '../common/os-users.js';
import type { Capabilities, Driver, ReadOptions, StorageInfo, WriteOptions } from './driver.js';
import { FileReadStream } from './file-read-stream.js';
import { checkedRange } from './read-range.js';
import {
  isMissing,
  linkFile,
  openFile,
  renameFile,
  syncPath,
  syncPaths,
  unwritten,
  type FileIo,
} from './file-io.js';
import { trackTempFile } from './temp-files.js';

/**
 * Suffix of in-progress writes. `list` hides such names and the driver refuses to create them, so a temporary file
 * can never be mistaken for (or collide with) a repository file. A random part before the suffix keeps two
 * concurrent writers of the same path apart.
 */
export const TEMP_SUFFIX = '.pgstash.tmp';

/** Size of the write coalescing buffer: large writes, few syscalls. */
const IO_SIZE = 1024 * 1024;
/** Below IOV_MAX (1024), so one writev never has to be split by the kernel interface. */
const MAX_PENDING_CHUNKS = 512;

const DEFAULT_FILE_MODE = 0o640;
const DEFAULT_PATH_MODE = 0o750;

const CAPABILITIES: Capabilities = { path: true, atomicWrite: true, atomicMove: true };

function toInfo(name: string, stats: Stats): StorageInfo | undefined {
  const type = stats.isFile()
    ? 'file'
    : stats.isDirectory()
      ? 'path'
      : stats.isSymbolicLink()
        ? 'link'
        : undefined;
  // Sockets, fifos and devices never belong in a repository; they are not reported.
  if (type === undefined) return undefined;
  return { name, type, size: stats.size, mtimeMs: Math.trunc(stats.mtimeMs), mode: stats.mode & 0o7777 };
}

/** The storage root `root` names, normalized (no trailing '/'); paramInvalid when it is not absolute. */
export function posixLocation(root: string): string {
  if (!isAbsolute(root)) fail('paramInvalid', `storage path '${root}' must be absolute`);
  return normalize(root).replace(/(.)\/$/, '$1');
}

/** Stores files under `root`; see Driver for the behaviour every method guarantees. */
export class PosixDriver implements Driver {
  readonly capabilities = CAPABILITIES;
  readonly location: string;
  readonly #fileMode: number;
  readonly #pathMode: number;
  /** Files, and directories (with a trailing '/'), written with `sync: false` and not yet flushed. */
  readonly #deferred = new Set<string>();
  readonly #blocking: boolean;
  readonly #owner: FileOwner | undefined;

  /**
   * @param root absolute path of the storage root; it need not exist yet (writes create it).
   * @param options.fileMode mode of new files (default 0o640), applied whatever the umask.
   * @param options.pathMode mode of new directories (default 0o750), applied whatever the umask.
   * @param options.blocking reads and writes files with blocking system calls (see file-io.ts): for a worker
   *   thread that does nothing but copy files. Never on the main thread.
   * @param options.owner gives every file and directory the driver creates this owner (a process running as root
   *   writing in a repository that belongs to another user: storage/index.ts).
   */
  constructor(
    root: string,
    options?: { fileMode?: number; pathMode?: number; blocking?: boolean; owner?: FileOwner },
  ) {
    this.location = posixLocation(root);
    this.#fileMode = options?.fileMode ?? DEFAULT_FILE_MODE;
    this.#pathMode = options?.pathMode ?? DEFAULT_PATH_MODE;
    this.#blocking = options?.blocking ?? false;
    this.#owner = options?.owner;
  }

  async info(path: string): Promise<StorageInfo | undefined> {
    const absolute = this.#resolve(path);
    let stats: Stats;
    try {
      stats = await lstat(absolute);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw wrapError('fileOpen', `unable to get info for '${absolute}'`, error);
    }
    return toInfo(path, stats);
  }

  async *list(path: string, options?: { prefix?: string }): AsyncIterable<StorageInfo> {
    const absolute = this.#resolve(path);
    const prefix = options?.prefix ?? '';
    let directory;
    try {
      directory = await opendir(absolute, { bufferSize: 256 });
    } catch (error) {
      if (isMissing(error)) return;
      throw wrapError('fileOpen', `unable to list '${absolute}'`, error);
    }
    // Iterating a Dir closes it at the end, on error, and when the consumer stops early.
    try {
      for await (const entry of directory) {
        if (!entry.name.startsWith(prefix) || entry.name.endsWith(TEMP_SUFFIX)) continue;
        let stats: Stats;
        try {
          stats = await lstat(join(absolute, entry.name));
        } catch (error) {
          // Removed between readdir and lstat: it is simply no longer there.
          if (isMissing(error)) continue;
          throw error;
        }
        const info = toInfo(entry.name, stats);
        if (info !== undefined) yield info;
      }
    } catch (error) {
      throw wrapError('fileOpen', `unable to list '${absolute}'`, error);
    }
  }

  async openRead(path: string, options?: ReadOptions): Promise<Readable | undefined> {
    const absolute = this.#resolve(path);
    const range = checkedRange(options);
    const opened = await this.#openForRead(absolute);
    if (opened === undefined) return undefined;
    const end = range.limit === undefined ? Infinity : range.offset + range.limit;
    return new FileReadStream(opened.handle, {
      path: absolute,
      offset: range.offset,
      end,
      sizeHint: opened.size,
      readSize: options?.readSize,
    });
  }

  async read(path: string, options?: { offset?: number; limit?: number }): Promise<Buffer | undefined> {
    const absolute = this.#resolve(path);
    const range = checkedRange(options);
    const opened = await this.#openForRead(absolute);
    if (opened === undefined) return undefined;
    const { handle } = opened;
    try {
      const length = Math.max(0, Math.min(opened.size - range.offset, range.limit ?? Infinity));
      const buffer = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        // In reads of the size this flavour does best (see FileIo.readSize), as readChunks does.
        const bytes = await handle.read(
          buffer,
          done,
          Math.min(length - done, handle.readSize),
          range.offset + done,
        );
        if (bytes === 0) break;
        done += bytes;
      }
      return done === length ? buffer : buffer.subarray(0, done);
    } catch (error) {
      throw wrapError('fileRead', `unable to read '${absolute}'`, error);
    } finally {
      await handle.close();
    }
  }

  /** The open file and its size; undefined when it does not exist. */
  async #openForRead(absolute: string): Promise<{ handle: FileIo; size: number } | undefined> {
    let handle: FileIo;
    try {
      handle = await openFile(absolute, 'r', { blocking: this.#blocking });
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw wrapError('fileOpen', `unable to open '${absolute}' for read`, error);
    }
    try {
      const stats = await handle.stat();
      // open() succeeds on a directory; reading it would fail later with a less useful message.
      if (stats.isDirectory()) fail('fileOpen', `unable to open '${absolute}' for read: is a directory`);
      return { handle, size: stats.size };
    } catch (error) {
      await handle.close();
      throw wrapError('fileOpen', `unable to open '${absolute}' for read`, error);
    }
  }

  async openWrite(path: string, options?: WriteOptions): Promise<Writable> {
    const target = this.#resolve(path, { write: true });
    if (target === this.location) fail('paramInvalid', `unable to write '${target}': it is the storage root`);
    const directory = dirname(target);
    const temp = join(directory, `${basename(target)}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
    const mode = options?.mode ?? this.#fileMode;
    const sync = options?.sync ?? true;

    const blocking = this.#blocking;
    // Tracked before it exists: a signal that comes once the open has created the file but before this code runs
    // on would otherwise leave it behind (removeTempFilesOnSignal); removing a name not yet created does no harm.
    const untrack = trackTempFile(temp);
    let handle: FileIo;
    try {
      try {
        handle = await openFile(temp, 'wx', { mode, blocking });
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') throw error;
        if (options?.createParent === false) {
          fail('pathMissing', `unable to write '${target}': parent path '${directory}' does not exist`);
        }
        await this.#makePath(directory, sync);
        if (!sync) this.#deferDirectories(directory);
        handle = await openFile(temp, 'wx', { mode, blocking });
      }
    } catch (error) {
      untrack();
      throw wrapError('fileWrite', `unable to write '${target}'`, error);
    }
    try {
      // The mode given to open() is reduced by the umask; fchmod is not.
      await handle.chmod(mode);
      if (this.#owner !== undefined) await handle.chown(this.#owner.uid, this.#owner.gid);
    } catch (error) {
      await handle.close();
      await rm(temp, { force: true });
      untrack();
      throw wrapError('fileWrite', `unable to write '${target}'`, error);
    }
    const deferred = sync ? undefined : this.#deferred;
    const ifAbsent = options?.ifAbsent ?? false;
    return new PosixWriteStream(handle, { temp, untrack, target, sync, deferred, blocking, ifAbsent });
  }

  /**
   * Makes every write made with `sync: false` durable: fsyncs those files and their directories, many at a time.
   * A backup writes thousands of files; syncing them in one batch at the end, instead of two fsyncs per file in
   * line, lets the kernel write back in the background meanwhile.
   */
  async flush(): Promise<void> {
    const paths = [...this.#deferred];
    this.#deferred.clear();
    const files = paths.filter((path) => !path.endsWith('/'));
    const directories = paths.filter((path) => path.endsWith('/')).map((path) => path.slice(0, -1));
    // Files before directories: a directory entry must not become durable ahead of the data it names. A file
    // removed since it was written (a cancelled backup cleaning up) has nothing left to sync.
    await syncPaths(files, { skipMissing: true });
    await syncPaths(directories, { skipMissing: true });
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.#resolve(from);
    const target = this.#resolve(to, { write: true });
    const message = `unable to move '${source}' to '${target}'`;
    try {
      try {
        await rename(source, target);
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') throw error;
        // ENOENT is either a missing source or a missing target parent: only the second can be repaired.
        if ((await this.info(from)) === undefined)
          fail('fileMissing', `${message}: no such file or directory`);
        await this.#makePath(dirname(target), true);
        await rename(source, target);
      }
      await syncPath(dirname(target), this.#blocking);
      if (dirname(source) !== dirname(target)) await syncPath(dirname(source), this.#blocking);
    } catch (error) {
      throw wrapError('fileWrite', message, error);
    }
  }

  async remove(path: string): Promise<void> {
    const absolute = this.#resolve(path);
    try {
      await unlink(absolute);
    } catch (error) {
      if (isMissing(error)) return;
      throw wrapError('fileWrite', `unable to remove '${absolute}'`, error);
    }
  }

  async removeTree(path: string): Promise<void> {
    const absolute = this.#resolve(path);
    try {
      await rm(absolute, { recursive: true, force: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw wrapError('fileWrite', `unable to remove '${absolute}'`, error);
    }
  }

  async makePath(path: string): Promise<void> {
    await this.#makePath(this.#resolve(path, { write: true }), true);
  }

  /** Records a new directory and its parents up to the root, to be synced by `flush`. */
  #deferDirectories(directory: string): void {
    for (let current = directory; current.startsWith(this.location); current = dirname(current)) {
      this.#deferred.add(`${dirname(current)}/`);
      if (current === this.location) break;
    }
  }

  /** mkdir -p with the driver's directory mode; with `sync`, each new directory's entry is made durable. */
  async #makePath(absolute: string, sync: boolean): Promise<void> {
    try {
      const first = await mkdir(absolute, { recursive: true, mode: this.#pathMode });
      if (first === undefined) return;
      // mkdir returns the top-most directory it created; fix the mode (umask) of it and everything below it.
      const created: string[] = [];
      for (let current = absolute; ; current = dirname(current)) {
        created.push(current);
        if (current === first || dirname(current) === current) break;
      }
      for (const directory of created.reverse()) {
        await chmod(directory, this.#pathMode);
        if (this.#owner !== undefined) await chown(directory, this.#owner.uid, this.#owner.gid);
        if (sync) await syncPath(dirname(directory), this.#blocking);
      }
    } catch (error) {
      throw wrapError('pathCreate', `unable to create path '${absolute}'`, error);
    }
  }

  localPath(path: string): string {
    return this.#resolve(path);
  }

  /** The absolute path of a driver path; rejects paths that could leave the root or name a temporary file. */
  #resolve(path: string, options?: { write?: boolean }): string {
    if (path === '') return this.location;
    const segments = path.split('/');
    if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
      fail('paramInvalid', `storage path '${path}' must be relative, without empty, '.' or '..' parts`);
    }
    if (options?.write === true && segments.some((segment) => segment.endsWith(TEMP_SUFFIX))) {
      fail(
        'paramInvalid',
        `storage path '${path}' ends in '${TEMP_SUFFIX}', which is reserved for in-progress writes`,
      );
    }
    return join(this.location, path);
  }
}

/**
 * Writes to a temporary file and, in `_final`, flushes, fsyncs, renames it over the target and fsyncs the
 * directory, so 'finish' (and the caller's `await pipeline(...)`) happens only once the file is durable.
 * Destroying the stream before the rename removes the temporary file; a destroy that arrives while the rename
 * itself runs is too late, and the write stands.
 */
class PosixWriteStream extends Writable {
  readonly #handle: FileIo;
  readonly #blocking: boolean;
  readonly #temp: string;
  /** Forgets the temp file in temp-files.ts once it is renamed or removed. */
  readonly #untrack: () => void;
  readonly #target: string;
  readonly #sync: boolean;
  readonly #deferred: Set<string> | undefined;
  /** Commit with link(2), which never replaces an existing file, instead of rename(2). */
  readonly #ifAbsent: boolean;
  /** Chunks not written yet: gathered (not copied) until IO_SIZE, then written with one writev. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #closed = false;
  #committed = false;
  #aborted = false;
  /** The write or commit in progress, which `_destroy` waits for before it cleans up. */
  #busy: Promise<unknown> = Promise.resolve();

  constructor(
    handle: FileIo,
    options: {
      temp: string;
      untrack: () => void;
      target: string;
      sync: boolean;
      deferred: Set<string> | undefined;
      blocking: boolean;
      ifAbsent: boolean;
    },
  ) {
    super();
    this.#handle = handle;
    this.#blocking = options.blocking;
    this.#temp = options.temp;
    this.#untrack = options.untrack;
    this.#target = options.target;
    this.#sync = options.sync;
    this.#deferred = options.deferred;
    this.#ifAbsent = options.ifAbsent;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#run(this.#append(chunk), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#run(this.#commit(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Stop a commit in progress from reaching its rename (once the rename has happened, the write stands).
    this.#aborted = true;
    const settled = this.#busy.then(
      () => undefined,
      () => undefined,
    );
    settled
      .then(() => this.#abort())
      .then(
        () => callback(error),
        (abortError: unknown) =>
          callback(error ?? wrapError('fileWrite', `unable to write '${this.#target}'`, abortError)),
      );
  }

  #run(operation: Promise<void>, callback: (error?: Error | null) => void): void {
    this.#busy = operation;
    operation.then(
      () => callback(),
      (error: unknown) => callback(wrapError('fileWrite', `unable to write '${this.#target}'`, error)),
    );
  }

  /**
   * Small chunks are gathered and written together with writev once IO_SIZE bytes are waiting: no per-file
   * staging buffer (a backup writes thousands of small files) and no copying.
   */
  async #append(chunk: Buffer): Promise<void> {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes >= IO_SIZE || this.#pending.length >= MAX_PENDING_CHUNKS) await this.#flush();
  }

  async #flush(): Promise<void> {
    let buffers = this.#pending;
    let remaining = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    while (remaining > 0) {
      const bytesWritten = await this.#handle.writev(buffers);
      remaining -= bytesWritten;
      if (remaining > 0) buffers = unwritten(buffers, bytesWritten);
    }
  }

  async #commit(): Promise<void> {
    await this.#flush();
    if (this.#aborted) return;
    if (this.#sync) await this.#handle.sync();
    this.#closed = true;
    await this.#handle.close();
    if (this.#aborted) return;
    if (this.#ifAbsent) await this.#linkIfAbsent();
    else await renameFile(this.#temp, this.#target, this.#blocking);
    // From here the new file is the visible one; a failed directory sync is reported but cannot be undone.
    this.#committed = true;
    this.#untrack();
    if (this.#sync) await syncPath(dirname(this.#target), this.#blocking);
    else this.#deferred?.add(this.#target).add(`${dirname(this.#target)}/`);
  }

  /**
   * Gives the finished, synced temp file its final name only if that name is free: link(2) is atomic and fails
   * with EEXIST when the name exists, so of concurrent writers exactly one wins and a crash leaves either no file
   * or the whole one under the final name. The temp name is then removed (a crash in between leaves a hidden
   * temp file, never a visible one).
   */
  async #linkIfAbsent(): Promise<void> {
    try {
      await linkFile(this.#temp, this.#target, this.#blocking);
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === 'EEXIST') throw new PgStashError('fileExists', `'${this.#target}' already exists`);
      if (errno === 'EPERM' || errno === 'ENOTSUP' || errno === 'EOPNOTSUPP' || errno === 'ENOSYS') {
        throw new PgStashError(
          'fileWrite',
          `unable to create '${this.#target}': the file system does not support hard links (${errno})`,
          { hint: 'a repository must be on a file system with hard links (create-if-absent needs link(2))' },
        );
      }
      throw error;
    }
    // The file is committed under its final name now: a temp name that cannot be removed is only litter.
    await rm(this.#temp, { force: true }).catch(() => undefined);
  }

  async #abort(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      await this.#handle.close();
    }
    if (!this.#committed) await rm(this.#temp, { force: true });
    this.#untrack();
  }
}
