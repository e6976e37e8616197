// Writes a file given as pieces into a destination stream (a storage driver's write), all or nothing.
import { once } from 'node:events';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Writes `pieces` (the chunk loop's output) into `destination`, a few pieces ahead of the writer. On any error
 * the destination is destroyed with that very error (storage drivers abort the write on destroy, leaving nothing
 * behind) and the error is rethrown unchanged once the destination has closed: by then its temporary file is gone.
 */
export async function copy(pieces: AsyncIterable<Buffer>, destination: Writable): Promise<void> {
  try {
    // Few pieces wait for the writer: memory stays at a few chunks per file.
    await pipeline(Readable.from(pieces, { highWaterMark: 2 }), destination);
  } catch (error) {
    // pipeline destroys the destination too, but not always with the error (e.g. when it had already ended).
    if (!destination.destroyed)
      destination.destroy(error instanceof Error ? error : new Error(String(error)));
    if (!destination.closed) await once(destination, 'close').catch(() => undefined);
    throw error;
  }
}
