// Turns a repository file's stored bytes back into the original, as a loop: decrypt, cut frames, decompress.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { COMPRESS_CONCURRENCY, createGunzip, frameDecoding, type CompressType } from './compress.js';
import { Decryptor } from './crypto/decrypt.js';
import { refusingEncrypted } from './crypto/no-key.js';
import { mapInOrder } from './parallel.js';

export interface DecodeOptions {
  readonly compressType: CompressType;
  /** The repository key when the file is encrypted. */
  readonly key?: Buffer | undefined;
  /** Decode lz4 on libuv's pool (see frame/lz4-decode.ts): for a short copy on a thread that hashes meanwhile. */
  readonly lz4OnPool: boolean;
  /** Frames decoded at once, ahead of the caller (default COMPRESS_CONCURRENCY). */
  readonly framesAhead?: number | undefined;
  /**
   * lz4, zst: given a frame's index (0 first), the original length of a frame the caller will not read, which is
   * then cut out but not decoded and yielded as that many zero bytes standing in for it; undefined to decode it.
   * Only for a caller that checks every byte it uses itself: the stand-in is not the file's content.
   */
  readonly skipFrame?: ((index: number) => number | undefined) | undefined;
  /** lz4, zst: given a frame's index, its original length when known (see frame/lz4-decode.ts), else undefined. */
  readonly frameLength?: ((index: number) => number | undefined) | undefined;
}

/** Zero bytes standing in for skipped frames (DecodeOptions.skipFrame), shared: never written to. */
let standIn = Buffer.alloc(0);

function standInOf(length: number): Buffer {
  if (standIn.length < length) standIn = Buffer.alloc(length);
  return standIn.subarray(0, length);
}

/**
 * Yields the original bytes of `stored` (a repository file's content, in pieces of any size), in order: the
 * inverse of encodeStored (io/encode.ts).
 * lz4 and zstd frames decode a few at once (COMPRESS_CONCURRENCY) while the caller handles earlier output, so
 * memory stays at a few frames whatever the file size. Damaged data fails with PgStashError('format') or, when
 * encrypted, PgStashError('crypto').
 */
export async function* decodeStored(
  stored: AsyncIterable<Buffer> | Iterable<Buffer>,
  options: DecodeOptions,
): AsyncGenerator<Buffer> {
  const type = options.compressType;
  // Without a key, an encrypted file is refused (io/crypto/no-key.ts), not taken for damaged compressed data. Not for
  // an uncompressed file: its content is the original's, which may start with anything, the magic included.
  const plain =
    options.key !== undefined
      ? decrypted(stored, options.key)
      : type === 'none'
        ? stored
        : refusingEncrypted(stored, 'file');
  if (type === 'none') {
    yield* plain;
  } else if (type === 'gz') {
    // gzip members cannot be found without inflating them: zlib streams through the whole file.
    const gunzip = createGunzip();
    const done = pipeline(Readable.from(plain), gunzip);
    // Reading gunzip below surfaces the same error; this one must not be reported as unhandled.
    done.catch(() => undefined);
    yield* gunzip;
    await done;
  } else {
    const { splitter, decode } = frameDecoding(type, { lz4OnPool: options.lz4OnPool });
    async function* frames(): AsyncGenerator<Buffer> {
      for await (const piece of plain) yield* splitter.write(piece);
      yield* splitter.end();
    }
    const { skipFrame, frameLength } = options;
    let index = 0;
    const decodeOrSkip = (frame: Buffer): Promise<Buffer> => {
      const at = index++;
      const skipped = skipFrame?.(at);
      return skipped === undefined
        ? decode(frame, at, frameLength?.(at))
        : Promise.resolve(standInOf(skipped));
    };
    for await (const { result } of mapInOrder(
      frames(),
      decodeOrSkip,
      Math.max(1, options.framesAhead ?? COMPRESS_CONCURRENCY),
    ))
      yield result;
  }
}

async function* decrypted(
  stored: AsyncIterable<Buffer> | Iterable<Buffer>,
  key: Buffer,
): AsyncGenerator<Buffer> {
  const decryptor = new Decryptor(key);
  for await (const piece of stored) yield* decryptor.update(piece);
  decryptor.final();
}
