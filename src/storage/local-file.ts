// A local file written through a temp name and renamed into place only after the caller has verified it.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PgStashError, reasonOf } from '../common/errors.js';
import { openFile, renameFile, syncPath, unwritten, type FileIo } from './file-io.js';
import { trackTempFile } from './temp-files.js';

/**
 * Writes `path` atomically: data goes to a hidden temp file beside it; `commit()` renames it into place (after an
 * optional fsync), `abort()` removes it. Until commit, nothing exists at `path`.
 * Writes go straight to the file, one after another: fetching a 16 MiB segment in a fresh process took 43-57 ms
 * this way and 50-75 ms through a write stream (5 runs each, lz4 and zst).
 */
export class PendingFile {
  readonly path: string;
  readonly tempPath: string;
  readonly #file: FileIo;
  /** Forgets the temp file in temp-files.ts once it is renamed or removed. */
  readonly #untrack: () => void;
  #closed = false;
  #done = false;

  private constructor(path: string, tempPath: string, file: FileIo, untrack: () => void) {
    this.path = path;
    this.tempPath = tempPath;
    this.#file = file;
    this.#untrack = untrack;
  }

  static async create(path: string, options: { mode?: number } = {}): Promise<PendingFile> {
    const tempPath = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.pgstash.tmp`);
    // Tracked before it exists: a signal that comes once the open has created the file but before this code runs on
    // left it in pg_wal (archive-signals.test.ts caught archive-get so under CI's load); removing a name not yet
    // created does no harm.
    const untrack = trackTempFile(tempPath);
    const file = await openFile(tempPath, 'wx', { mode: options.mode ?? 0o600, blocking: false }).catch(
      (error: unknown) => {
        untrack();
        throw new PgStashError('fileOpen', `unable to create '${path}': ${reasonOf(error)}`, {
          cause: error,
        });
      },
    );
    return new PendingFile(path, tempPath, file, untrack);
  }

  /** Appends all of `data` (a short write leaves a remainder to write). */
  async write(data: Buffer): Promise<void> {
    try {
      for (let rest = [data]; rest.length > 0;) rest = unwritten(rest, await this.#file.writev(rest));
    } catch (error) {
      throw new PgStashError('fileWrite', `unable to write '${this.tempPath}': ${reasonOf(error)}`, {
        cause: error,
      });
    }
  }

  /** Renames the finished temp file into place; `sync` fsyncs it first (and the directory after). */
  async commit(options: { sync?: boolean } = {}): Promise<void> {
    if (this.#done) return;
    try {
      if (options.sync === true) await this.#file.sync();
      await this.#close();
    } catch (error) {
      throw new PgStashError('fileWrite', `unable to write '${this.tempPath}': ${reasonOf(error)}`, {
        cause: error,
      });
    }
    await renameFile(this.tempPath, this.path, false).catch((error: unknown) => {
      throw new PgStashError('fileWrite', `unable to move into place '${this.path}': ${reasonOf(error)}`);
    });
    this.#done = true;
    this.#untrack();
    if (options.sync === true) await syncPath(dirname(this.path), false);
  }

  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#close().catch(() => undefined);
    await rm(this.tempPath, { force: true });
    this.#untrack();
  }

  async #close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#file.close();
  }
}
