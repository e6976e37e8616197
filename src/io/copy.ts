// Runs one file copy: source -> filters -> destination as a single stream pipeline, plus a buffer source.
import { Readable, Writable, type Transform } from 'node:stream';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';

/**
 * Copies `source` through `filters` (in order) into `destination`; filter results (size, hash...) are read from
 * the filter objects afterwards. On any error every stream is destroyed, the destination with that very error
 * (storage drivers abort the write on destroy, leaving nothing behind), and the error is rethrown unchanged once
 * the destination has closed: by then its temporary file is gone.
 */
export async function copy(
  source: Readable,
  destination: Writable,
  filters: readonly Transform[],
): Promise<void> {
  try {
    await pipeline([source, ...filters, destination]);
  } catch (error) {
    // pipeline destroys the destination too, but not always with the error (e.g. when it had already ended).
    if (!destination.destroyed)
      destination.destroy(error instanceof Error ? error : new Error(String(error)));
    if (!destination.closed) await once(destination, 'close').catch(() => undefined);
    throw error;
  }
}

/** A byte stream of one buffer (for writing small files through copy). */
export function bufferSource(data: Buffer): Readable {
  return Readable.from(data.length === 0 ? [] : [data], { objectMode: false });
}
