// Runs one file copy: source -> filters -> destination as a single stream pipeline, plus small-file helpers.
import { Readable, Writable, type Transform } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { PgStashError } from '../common/errors.js';

/**
 * Copies `source` through `filters` (in order) into `destination`; filter results (size, hash...) are read from
 * the filter objects afterwards. On any error every stream is destroyed, the destination with that very error
 * (storage drivers abort the write on destroy, leaving nothing behind), and the error is rethrown unchanged.
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
    throw error;
  }
}

/** Writes all of `data` to `destination` and ends it; on error the destination is destroyed, as by `copy`. */
export async function writeWhole(destination: Writable, data: Buffer): Promise<void> {
  try {
    destination.end(data);
    await finished(destination);
  } catch (error) {
    if (!destination.destroyed)
      destination.destroy(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
}

/** Reads a small file (info file, manifest) through `filters` into memory; more than `maxBytes` fails. */
export async function readToBuffer(
  source: Readable,
  filters: readonly Transform[],
  maxBytes: number,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback): void {
      size += chunk.length;
      if (size > maxBytes) {
        callback(new PgStashError('format', `unexpected file size: more than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
      callback();
    },
  });
  await copy(source, sink, filters);
  return Buffer.concat(chunks, size);
}

/** A byte stream of one buffer (for writing small files through copy). */
export function bufferSource(data: Buffer): Readable {
  return Readable.from(data.length === 0 ? [] : [data], { objectMode: false });
}
