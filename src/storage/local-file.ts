// A local file written through a temp name and renamed into place only after the caller has verified it.
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PgStashError, reasonOf } from '../common/errors.js';

/**
 * Writes `path` atomically: data goes to a hidden temp file beside it; `commit()` renames it into place (after an
 * optional fsync), `abort()` removes it. Until commit, nothing exists at `path`.
 */
export class PendingFile {
  readonly path: string;
  readonly tempPath: string;
  readonly stream: WriteStream;
  #done = false;

  private constructor(path: string, tempPath: string, stream: WriteStream) {
    this.path = path;
    this.tempPath = tempPath;
    this.stream = stream;
  }

  static async create(path: string, options: { mode?: number } = {}): Promise<PendingFile> {
    const tempPath = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.pgstash.tmp`);
    const handle = await open(tempPath, 'wx', options.mode ?? 0o600).catch((error: unknown) => {
      throw new PgStashError('fileOpen', `unable to create '${path}': ${reasonOf(error)}`, {
        cause: error,
      });
    });
    // The stream owns the handle from here (and closes it); highWaterMark matches the pipeline's chunk size.
    const stream = createWriteStream(tempPath, { fd: handle, highWaterMark: 1024 * 1024 });
    return new PendingFile(path, tempPath, stream);
  }

  /** Renames the finished temp file into place; `sync` fsyncs it first (and the directory after). */
  async commit(options: { sync?: boolean } = {}): Promise<void> {
    if (this.#done) return;
    if (options.sync === true) {
      const handle = await open(this.tempPath, 'r+');
      await handle.sync().finally(() => handle.close());
    }
    await rename(this.tempPath, this.path).catch((error: unknown) => {
      throw new PgStashError('fileWrite', `unable to move into place '${this.path}': ${reasonOf(error)}`);
    });
    this.#done = true;
    if (options.sync === true) {
      const dir = await open(dirname(this.path), 'r');
      await dir.sync().finally(() => dir.close());
    }
  }

  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    if (!this.stream.destroyed) this.stream.destroy();
    await rm(this.tempPath, { force: true });
  }
}
