// A writable stream into an open file descriptor with blocking writes, for worker threads that only copy files.
import { writevSync } from 'node:fs';
import { Writable } from 'node:stream';
import { unwritten } from './file-io.js';

/**
 * Writes every chunk at once with writev (see storage/file-io.ts for why a worker thread blocks). The caller owns
 * the descriptor: it syncs and closes it after the stream finishes.
 */
export class BlockingFileSink extends Writable {
  readonly #fd: number;

  constructor(fd: number) {
    super({ highWaterMark: 1024 * 1024 });
    this.#fd = fd;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#writeAll([chunk], callback);
  }

  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (error?: Error | null) => void,
  ): void {
    this.#writeAll(
      chunks.map((entry) => entry.chunk),
      callback,
    );
  }

  #writeAll(buffers: Buffer[], callback: (error?: Error | null) => void): void {
    try {
      // A short write leaves a remainder to write.
      for (let rest = buffers; rest.length > 0;) rest = unwritten(rest, writevSync(this.#fd, rest));
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
}
