// Turns a file's original bytes into what the repository stores, as one loop: stages, compress, encrypt.
import { fail } from '../common/errors.js';
import { CHUNK_SIZE } from './chunker.js';
import {
  chunkCompressor,
  COMPRESS_CONCURRENCY,
  type CompressSettings,
  type CompressType,
} from './compress.js';
import { Encryptor } from './crypto/encrypt.js';
import { mapInOrder } from './parallel.js';
import type { ChunkStage } from './stage.js';

export interface EncodeOptions {
  readonly compress: CompressSettings;
  /** The repository key, to encrypt; undefined for an unencrypted repository. */
  readonly key?: Buffer | undefined;
  /** Stages that see each chunk of the original, in order, before it is compressed (hash, page checksums). */
  readonly original?: readonly ChunkStage[];
  /** Stages that see each piece of the stored bytes, in order, as it leaves (the stored size). */
  readonly stored?: readonly ChunkStage[];
  /**
   * Gets each chunk back once nothing reads it any more (once compressed; never without compression, where the
   * chunk itself is what is stored), for the reader to fill again.
   */
  readonly release?: ((chunk: Buffer) => void) | undefined;
  /**
   * Original bytes per lz4 or zstd frame when less than a chunk (a divisor of CHUNK_SIZE): each chunk is then
   * stored as several frames, so that a reader decodes a small piece at a time (a block-stored file's part, of
   * which restore holds one frame per part: repo/block-read.ts). Other compress types ignore it.
   */
  readonly frameSize?: number | undefined;
}

/**
 * Yields the stored bytes of the file given as `chunks`: CHUNK_SIZE bytes each, only the last one shorter (none
 * for an empty file; io/chunker.ts cuts other input so: chunksOf, wholeChunks). Each chunk passes the `original`
 * stages, is compressed into its own frame on libuv's pool (a few at once, COMPRESS_CONCURRENCY, in order) and
 * encrypted; each stored piece then passes the `stored` stages. Memory stays at a few chunks whatever the size.
 * The same input and settings always give the same bytes (bar the random salt of an encrypted file).
 * The inverse is decodeStored (io/decode.ts).
 */
export async function* encodeStored(
  chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
  options: EncodeOptions,
): AsyncGenerator<Buffer> {
  const { compress } = options;
  const compressChunk = inFrames(
    chunkCompressor(compress.type, compress.level),
    compress.type === 'lz4' || compress.type === 'zst' ? options.frameSize : undefined,
  );
  const release = compress.type === 'none' ? undefined : options.release;
  const encryptor = options.key === undefined ? undefined : new Encryptor(options.key);
  const storedStages = options.stored ?? [];
  function* leaving(pieces: readonly Buffer[]): Generator<Buffer> {
    for (const piece of pieces) {
      for (const stage of storedStages) stage.update(piece);
      yield piece;
    }
  }
  const frames = mapInOrder(staged(chunks, options.original ?? []), compressChunk, COMPRESS_CONCURRENCY);
  for await (const { item, result } of frames) {
    release?.(item);
    yield* leaving(encryptor === undefined ? [result] : encryptor.update(result));
  }
  if (encryptor !== undefined) yield* leaving(encryptor.final());
}

/**
 * Original bytes of each frame but the last that encodeStored writes with `frameSize` and compress type `type`
 * (chunks are whole but the last, and a frame size divides the chunk size), or undefined when the stored bytes
 * are not in frames (none, gz). Recorded so a reader can tell which frames hold the bytes it needs.
 */
export function storedFrameSize(type: CompressType, frameSize: number | undefined): number | undefined {
  if (type !== 'lz4' && type !== 'zst') return undefined;
  return frameSize === undefined ? CHUNK_SIZE : Math.min(frameSize, CHUNK_SIZE);
}

/** `compress` applied to each `frameSize` bytes of a chunk, the frames one after another. */
function inFrames(
  compress: (data: Buffer) => Promise<Buffer>,
  frameSize: number | undefined,
): (data: Buffer) => Promise<Buffer> {
  if (frameSize === undefined || frameSize >= CHUNK_SIZE) return compress;
  if (frameSize <= 0 || CHUNK_SIZE % frameSize !== 0)
    fail('assert', `chunk loop: frame size ${frameSize} does not divide the chunk size`);
  return async (data) => {
    if (data.length <= frameSize) return compress(data);
    const frames: Buffer[] = [];
    for (let offset = 0; offset < data.length; offset += frameSize)
      frames.push(await compress(data.subarray(offset, offset + frameSize)));
    return Buffer.concat(frames);
  };
}

/**
 * The chunks, each passed to the stages on its way; an empty file is one empty chunk (one empty frame). A chunk
 * larger than CHUNK_SIZE, or a short one before the last, would store other frames than the same file read whole
 * chunks at a time: refused.
 */
async function* staged(
  chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
  stages: readonly ChunkStage[],
): AsyncGenerator<Buffer> {
  let count = 0;
  let short = false;
  for await (const chunk of chunks) {
    if (short || chunk.length > CHUNK_SIZE)
      fail('assert', `chunk loop: chunk ${count} of ${chunk.length} bytes after a short one or over a chunk`);
    short = chunk.length < CHUNK_SIZE;
    count++;
    for (const stage of stages) stage.update(chunk);
    yield chunk;
  }
  if (count === 0) yield Buffer.alloc(0);
}
