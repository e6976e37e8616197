// Tests for the chunk loop's write side: encodeStored (stages, compress, encrypt; decodeStored its inverse) and copy()
// into a destination (errors unchanged, destination destroyed on error).
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPgStashError, PgStashError } from '../../../src/common/errors.js';
import { CHUNK_SIZE, chunksOf } from '../../../src/io/chunker.js';
import { COMPRESS_TYPES, defaultCompressLevel, type CompressType } from '../../../src/io/compress.js';
import { copy } from '../../../src/io/copy.js';
import { decodeStored, type DecodeOptions } from '../../../src/io/decode.js';
import { encodeStored, storedFrameSize } from '../../../src/io/encode.js';
import { ByteCount, ContentDigest, type ChunkStage } from '../../../src/io/stage.js';
import { BufferSink, chunkSizes, chunkedSource, encoded, sha256, testData } from './helpers.js';

const KEY = randomBytes(32);

/** What decodeStored yields for `stored` (a stream, as a storage driver gives it), as one buffer. */
async function decoded(stored: Readable, options: DecodeOptions): Promise<Buffer> {
  const output: Buffer[] = [];
  for await (const piece of decodeStored(stored, options)) output.push(piece);
  return Buffer.concat(output);
}

/** Every piece `pieces` yields (Array.fromAsync, which Node 20 lacks). */
async function collect(pieces: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const all: Buffer[] = [];
  for await (const piece of pieces) all.push(piece);
  return all;
}

async function* once(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

/** A destination that records how it ended. */
class RecordingSink extends BufferSink {
  destroyedWith: Error | null | undefined;

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.destroyedWith = error;
    callback(error);
  }
}

/** A stage that keeps a copy of every chunk it sees. */
class Recorder implements ChunkStage {
  readonly seen: Buffer[] = [];

  update(chunk: Buffer): void {
    this.seen.push(Buffer.from(chunk));
  }
}

describe('encodeStored', () => {
  it('stores any data with any compression, encrypted or not; the stages measure both sides; decodeStored inverts it', async () => {
    await fc.assert(
      fc.asyncProperty(
        testData,
        fc.constantFrom<CompressType>(...COMPRESS_TYPES),
        fc.boolean(),
        chunkSizes,
        async (data, type, encrypted, readSizes) => {
          const original = new ContentDigest();
          const storedSize = new ByteCount();
          const storedDigest = new ContentDigest();
          const pieces: Buffer[] = [];
          for await (const piece of encodeStored(chunksOf(data), {
            compress: { type, level: defaultCompressLevel(type) },
            key: encrypted ? KEY : undefined,
            original: [original],
            stored: [storedSize, storedDigest],
          }))
            pieces.push(piece);
          const stored = Buffer.concat(pieces);
          expect(original.digest()).toBe(sha256(data));
          expect(original.size).toBe(data.length);
          expect(storedSize.size).toBe(stored.length);
          expect(storedDigest.digest()).toBe(sha256(stored));
          const restored = await decoded(chunkedSource(stored, readSizes), {
            compressType: type,
            key: encrypted ? KEY : undefined,
            lz4OnPool: false,
          });
          expect(restored.equals(data)).toBe(true);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('passes each chunk, in order, to every original stage (an empty file has none)', async () => {
    const data = randomBytes(2 * CHUNK_SIZE + 3);
    for (const input of [data, Buffer.alloc(0)]) {
      const first = new Recorder();
      const second = new Recorder();
      await encoded(input, { compress: { type: 'zst', level: 1 }, original: [first, second] });
      const expected = [...chunksOf(input)];
      for (const stage of [first, second]) {
        expect(stage.seen.map((chunk) => chunk.length)).toEqual(expected.map((chunk) => chunk.length));
        expect(stage.seen.every((chunk, index) => chunk.equals(expected[index] as Buffer))).toBe(true);
      }
    }
  });

  it('refuses a chunk over CHUNK_SIZE, and a short chunk before the last', async () => {
    for (const chunks of [
      [Buffer.alloc(CHUNK_SIZE + 1)],
      [Buffer.alloc(CHUNK_SIZE), Buffer.alloc(10), Buffer.alloc(CHUNK_SIZE)],
    ]) {
      for (const type of ['none', 'lz4'] as const) {
        const run = async (): Promise<void> => {
          const compress = { type, level: defaultCompressLevel(type) };
          for await (const piece of encodeStored(chunks, { compress })) void piece;
        };
        const error = await run().catch((caught: unknown) => caught);
        expect(isPgStashError(error, 'assert')).toBe(true);
        expect((error as Error).message).toMatch(/^chunk loop: chunk \d of \d+ bytes/);
      }
    }
  });

  it('with frameSize, stores each chunk as frames of that many original bytes (lz4, zst), decoded a frame at a time', async () => {
    const data = randomBytes(CHUNK_SIZE + 100_000);
    for (const type of ['lz4', 'zst'] as const) {
      const stored: Buffer[] = [];
      for await (const piece of encodeStored(chunksOf(data), {
        compress: { type, level: defaultCompressLevel(type) },
        frameSize: 64 * 1024,
      }))
        stored.push(piece);
      const pieces: Buffer[] = [];
      for await (const piece of decodeStored([Buffer.concat(stored)], {
        compressType: type,
        lz4OnPool: false,
      }))
        pieces.push(piece);
      // 16 frames for the whole chunk, 2 for the 100000 bytes after it: each decoded on its own.
      expect(pieces.map((piece) => piece.length)).toEqual([
        ...Array<number>(16).fill(64 * 1024),
        64 * 1024,
        100_000 - 64 * 1024,
      ]);
      expect(Buffer.concat(pieces).equals(data)).toBe(true);
    }
  });

  it('skipFrame: frames the reader does not need stand in as zeros of their length, never decoded (lz4, zst, encrypted)', async () => {
    const data = randomBytes(CHUNK_SIZE + 100_000);
    const frameSize = storedFrameSize('lz4', 64 * 1024) as number;
    expect(frameSize).toBe(64 * 1024);
    expect(storedFrameSize('zst', undefined)).toBe(CHUNK_SIZE);
    expect(storedFrameSize('gz', 64 * 1024)).toBeUndefined();
    for (const type of ['lz4', 'zst'] as const) {
      for (const key of [undefined, KEY]) {
        const stored: Buffer[] = [];
        for await (const piece of encodeStored(chunksOf(data), {
          compress: { type, level: defaultCompressLevel(type) },
          frameSize,
          key,
        }))
          stored.push(piece);
        const asked: number[] = [];
        // Every other frame skipped, the last (short) one among them.
        const skipFrame = (index: number) => {
          asked.push(index);
          return index % 2 === 1 ? Math.min(frameSize, data.length - index * frameSize) : undefined;
        };
        const out = Buffer.concat(
          await collect(
            decodeStored([Buffer.concat(stored)], { compressType: type, lz4OnPool: false, key, skipFrame }),
          ),
        );
        expect(asked).toEqual([...Array(18).keys()]);
        expect(out.length).toBe(data.length);
        for (let frame = 0; frame < 18; frame++) {
          const range = [frame * frameSize, Math.min((frame + 1) * frameSize, data.length)] as const;
          const expected = frame % 2 === 1 ? Buffer.alloc(range[1] - range[0]) : data.subarray(...range);
          expect(out.subarray(...range).equals(expected), `${type} frame ${frame}`).toBe(true);
        }
      }
    }
    // A skipped frame is not decoded: damage inside its lz4 block goes unseen (the frame is still cut out by its
    // headers), while the same damage in a frame that is decoded fails.
    const text = Buffer.from('a restore decodes only the frames it needs. '.repeat((8 * frameSize) / 32));
    const stored = Buffer.concat(
      await collect(
        encodeStored(chunksOf(text.subarray(0, 4 * frameSize)), {
          compress: { type: 'lz4', level: 1 },
          frameSize,
        }),
      ),
    );
    const frameBytes = stored.length / 4;
    const damaged = Buffer.from(stored);
    // Past the frame header (7 bytes) and block size (4), before the end mark (4).
    damaged.fill(0xff, frameBytes + 11, 2 * frameBytes - 4);
    const read = (skip: number | undefined) =>
      collect(
        decodeStored([damaged], {
          compressType: 'lz4',
          lz4OnPool: false,
          skipFrame: (index) => (index === 1 ? skip : undefined),
        }),
      );
    expect(Buffer.concat(await read(frameSize)).length).toBe(4 * frameSize);
    await expect(read(undefined)).rejects.toThrow(/unable to decompress frame 1/);
  });

  it('refuses a frameSize that does not divide the chunk size', async () => {
    const run = async () => {
      for await (const piece of encodeStored(chunksOf(Buffer.alloc(10)), {
        compress: { type: 'lz4', level: 1 },
        frameSize: 100_000,
      }))
        void piece;
    };
    await expect(run()).rejects.toThrow(/frame size 100000 does not divide/);
  });

  it('passes an error of the chunk source through unchanged', async () => {
    const failure = new PgStashError('fileRead', "unable to read file '/x': EIO");
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(CHUNK_SIZE, 7);
      throw failure;
    }
    const run = async (): Promise<void> => {
      for await (const piece of encodeStored(failing(), { compress: { type: 'gz', level: 1 }, key: KEY }))
        void piece;
    };
    await expect(run()).rejects.toBe(failure);
  });
});

describe('copy', () => {
  it('writes the pieces in order', async () => {
    const sink = new BufferSink();
    await copy(encodeStored(chunksOf(Buffer.from('plain')), { compress: { type: 'none', level: 0 } }), sink);
    expect(sink.data.toString()).toBe('plain');
  });

  it('destroys the destination with a source error and rethrows that very error', async () => {
    const failure = new PgStashError('fileRead', "unable to read file '/x': EIO");
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from('data');
      throw failure;
    }
    const sink = new RecordingSink();
    await expect(copy(failing(), sink)).rejects.toBe(failure);
    expect(sink.destroyed).toBe(true);
    expect(sink.destroyedWith).toBe(failure);
  });

  it('destroys the destination with a decryption error from real data, read as Repository.getChunks reads', async () => {
    const stored = await encoded(Buffer.from('secret'), { compress: { type: 'none', level: 0 }, key: KEY });
    const sink = new RecordingSink();
    const chunks = decodeStored(once(stored), {
      compressType: 'none',
      key: randomBytes(32),
      lz4OnPool: false,
    });
    const error = await copy(chunks, sink).catch((caught: unknown) => caught);
    expect(isPgStashError(error, 'crypto')).toBe(true);
    expect(sink.destroyedWith).toBe(error);
    expect(sink.data.length).toBe(0);
  });

  it('rethrows a destination error unchanged', async () => {
    const failure = new PgStashError('fileWrite', "unable to write file '/x': ENOSPC");
    const sink = new Writable({
      write(_chunk, _encoding, callback): void {
        callback(failure);
      },
    });
    await expect(copy(once(Buffer.from('data')), sink)).rejects.toBe(failure);
  });
});

describe('decodeStored of an encrypted, compressed file', () => {
  it('refuses the wrong key, a file cut at a chunk boundary, and a flipped bit with a crypto error', async () => {
    const data = randomBytes(2 * CHUNK_SIZE);
    const file = await encoded(data, { compress: { type: 'zst', level: 1 }, key: KEY });
    const options = { compressType: 'zst', key: KEY, lz4OnPool: false } as const;
    expect((await decoded(Readable.from([file]), options)).equals(data)).toBe(true);
    const cryptoError = async (bytes: Buffer, key = KEY): Promise<Error> => {
      const error = await decoded(Readable.from([bytes]), { ...options, key }).catch(
        (caught: unknown) => caught,
      );
      if (!isPgStashError(error, 'crypto'))
        throw new Error(
          `expected a crypto error, got ${error instanceof Error ? String(error) : 'the data'}`,
        );
      return error;
    };
    expect((await cryptoError(file, randomBytes(32))).message).toMatch(/authentication failed for chunk 0/);
    // Header (40 bytes), then chunks of length (4), ciphertext, tag (16): drop the last chunk whole.
    let last = 40;
    while (last + 4 + file.readUInt32BE(last) + 16 < file.length) last += 4 + file.readUInt32BE(last) + 16;
    expect((await cryptoError(file.subarray(0, last))).message).toMatch(/before the final one/);
    const flipped = Buffer.from(file);
    flipped[last - 100] = (flipped[last - 100] as number) ^ 1;
    expect((await cryptoError(flipped)).message).toMatch(/authentication failed/);
  });
});
