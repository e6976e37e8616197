// Reads an open file as whole chunks of a fixed size, for loops that process a file chunk by chunk.
import { wrapError } from '../common/errors.js';
import type { FileIo } from './file-io.js';

/**
 * Yields the file's bytes in chunks of exactly `chunkSize` bytes (the last may be shorter; an empty file yields
 * nothing), each filled by reads of `file.readSize`.
 * `sizeHint`, the size the file is expected to have, sizes the buffer of a small file (plus one byte to see the
 * end); a file that has grown since gets whole chunks again. The caller closes the file.
 */
export async function* readChunks(
  file: FileIo,
  path: string,
  options: { chunkSize: number; sizeHint: number },
): AsyncGenerator<Buffer> {
  const { chunkSize, sizeHint } = options;
  let position = 0;
  try {
    for (;;) {
      let buffer = Buffer.allocUnsafe(Math.min(chunkSize, Math.max(sizeHint - position, 0) + 1));
      let used = 0;
      for (;;) {
        if (used === buffer.length) {
          if (used === chunkSize) break;
          const grown = Buffer.allocUnsafe(chunkSize);
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
      if (used === 0) return;
      position += used;
      yield used === buffer.length ? buffer : buffer.subarray(0, used);
      if (used < chunkSize) return;
    }
  } catch (error) {
    throw wrapError('fileRead', `unable to read '${path}'`, error);
  }
}
