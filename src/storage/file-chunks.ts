// Reads an open file as whole chunks of a fixed size, for loops that process a file chunk by chunk.
import { wrapError } from '../common/errors.js';
import type { FileIo } from './file-io.js';

/**
 * Whole-chunk buffers to read into, handed back (`give`) once nothing needs their bytes any more.
 * Why: memory a process has never touched costs a page fault per 4 KiB on first use. Measured here, 0.8 ms per
 * MiB, ten times the cost of filling memory already mapped; a process that lives for one WAL segment never gets
 * freed memory back from the allocator before it exits, so every fresh chunk paid it.
 */
export class ChunkBuffers {
  readonly chunkSize: number;
  readonly #free: Buffer[] = [];
  readonly #keep: number;

  /** `keep`: buffers held for reuse at most (about the chunks a reader and its consumer hold at once). */
  constructor(chunkSize: number, keep: number) {
    this.chunkSize = chunkSize;
    this.#keep = keep;
  }

  /** A buffer of chunkSize bytes, reused when one was given back. Its content is undefined. */
  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafe(this.chunkSize);
  }

  /** Hands back a chunk from `take` whose bytes nothing reads any more; other buffers are ignored. */
  give(chunk: Buffer): void {
    if (chunk.length === this.chunkSize && chunk.byteOffset === 0 && this.#free.length < this.#keep)
      this.#free.push(chunk);
  }
}

/**
 * Yields the file's bytes in chunks of exactly `chunkSize` bytes (the last may be shorter; an empty file yields
 * nothing), each filled by reads of `file.readSize`.
 * `sizeHint`, the size the file is expected to have, sizes the buffer of a small file (plus one byte to see the
 * end); a file that has grown since gets whole chunks again. Whole chunks come from `buffers` when given (the
 * consumer gives each back when done with it). The caller closes the file.
 */
export async function* readChunks(
  file: FileIo,
  path: string,
  options: { chunkSize: number; sizeHint: number; buffers?: ChunkBuffers | undefined },
): AsyncGenerator<Buffer> {
  const { chunkSize, sizeHint, buffers } = options;
  if (buffers !== undefined && buffers.chunkSize !== chunkSize)
    throw new RangeError(`chunk buffers of ${buffers.chunkSize} bytes for chunks of ${chunkSize}`);
  let position = 0;
  try {
    for (;;) {
      const length = Math.min(chunkSize, Math.max(sizeHint - position, 0) + 1);
      let buffer =
        length === chunkSize && buffers !== undefined ? buffers.take() : Buffer.allocUnsafe(length);
      let used = 0;
      for (;;) {
        if (used === buffer.length) {
          if (used === chunkSize) break;
          const grown = buffers?.take() ?? Buffer.allocUnsafe(chunkSize);
          buffer.copy(grown, 0, 0, used);
          buffer = grown;
        }
        const read = await file.read(
          buffer,
          used,
          Math.min(buffer.length - used, file.readSize),
          position + used,
        );
        if (read === 0) break;
        used += read;
      }
      if (used === 0) {
        buffers?.give(buffer);
        return;
      }
      position += used;
      yield used === buffer.length ? buffer : buffer.subarray(0, used);
      if (used < chunkSize) return;
    }
  } catch (error) {
    throw wrapError('fileRead', `unable to read '${path}'`, error);
  }
}
