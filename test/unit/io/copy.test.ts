// Tests for copy(): the whole filter chain in one pipeline, errors unchanged, destination destroyed on error; the
// stored bytes read back through decodeStored, as restore and archive-get read them.
import { randomBytes } from 'node:crypto';
import { Readable, Transform, Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPgStashError, PgStashError } from '../../../src/common/errors.js';
import { CHUNK_SIZE } from '../../../src/io/chunker.js';
import { createCompressFilter, type CompressType } from '../../../src/io/compress.js';
import { bufferSource, copy } from '../../../src/io/copy.js';
import { decodeStored, type DecodeOptions } from '../../../src/io/decode.js';
import { EncryptFilter } from '../../../src/io/filter/encrypt.js';
import { HashFilter } from '../../../src/io/filter/hash.js';
import { SizeFilter } from '../../../src/io/filter/size.js';
import { BufferSink, chunkSizes, chunkedSource, sha256, testData } from './helpers.js';

const KEY = randomBytes(32);

/** What decodeStored yields for `stored` (a stream, as a storage driver gives it), as one buffer. */
async function decoded(stored: Readable, options: DecodeOptions): Promise<Buffer> {
  const output: Buffer[] = [];
  for await (const piece of decodeStored(stored, options)) output.push(piece);
  return Buffer.concat(output);
}

/** A destination that records how it ended. */
class RecordingSink extends BufferSink {
  destroyedWith: Error | null | undefined;

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.destroyedWith = error;
    callback(error);
  }
}

describe('copy', () => {
  it('runs the full chain, and decodeStored its inverse; results are read from the filters afterwards', async () => {
    await fc.assert(
      fc.asyncProperty(
        testData,
        fc.constantFrom<CompressType>('none', 'gz', 'lz4', 'zst'),
        fc.boolean(),
        chunkSizes,
        async (data, type, encrypted, sizes) => {
          const hash = new HashFilter();
          const size = new SizeFilter();
          const repoHash = new HashFilter();
          const repoSize = new SizeFilter();
          const compress = createCompressFilter(type, type === 'none' ? 0 : 1);
          const filters = [
            hash,
            size,
            ...(compress ? [compress] : []),
            ...(encrypted ? [new EncryptFilter(KEY)] : []),
          ];
          const stored = new BufferSink();
          await copy(chunkedSource(data, sizes), stored, [...filters, repoHash, repoSize]);
          expect(hash.digest()).toBe(sha256(data));
          expect(size.size).toBe(data.length);
          expect(repoHash.digest()).toBe(sha256(stored.data));
          expect(repoSize.size).toBe(stored.data.length);

          const restored = await decoded(chunkedSource(stored.data, sizes), {
            compressType: type,
            key: encrypted ? KEY : undefined,
            lz4OnPool: false,
          });
          expect(sha256(restored)).toBe(hash.digest());
          expect(restored.equals(data)).toBe(true);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('copies with no filters', async () => {
    const sink = new BufferSink();
    await copy(bufferSource(Buffer.from('plain')), sink, []);
    expect(sink.data.toString()).toBe('plain');
  });

  it('destroys the destination with a filter error and rethrows that very error', async () => {
    const failure = new PgStashError('crypto', 'unable to decrypt data: wrong passphrase or corrupt data');
    const failing = new Transform({
      transform(_chunk, _encoding, callback): void {
        callback(failure);
      },
    });
    const sink = new RecordingSink();
    await expect(copy(bufferSource(Buffer.from('data')), sink, [new SizeFilter(), failing])).rejects.toBe(
      failure,
    );
    expect(sink.destroyed).toBe(true);
    expect(sink.destroyedWith).toBe(failure);
  });

  it('destroys the destination with a source error', async () => {
    const failure = new PgStashError('fileRead', "unable to read file '/x': EIO");
    const source = new Readable({
      read(): void {
        this.destroy(failure);
      },
    });
    const sink = new RecordingSink();
    await expect(copy(source, sink, [new HashFilter()])).rejects.toBe(failure);
    expect(sink.destroyedWith).toBe(failure);
  });

  it('destroys the destination with a decryption error from real data, read as Repository.get reads', async () => {
    const stored = new BufferSink();
    await copy(bufferSource(Buffer.from('secret')), stored, [new EncryptFilter(KEY)]);
    const sink = new RecordingSink();
    const chunks = decodeStored(bufferSource(stored.data), {
      compressType: 'none',
      key: randomBytes(32),
      lz4OnPool: false,
    });
    const error = await copy(Readable.from(chunks, { highWaterMark: 2 }), sink, []).catch(
      (caught: unknown) => caught,
    );
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
    await expect(copy(bufferSource(Buffer.from('data')), sink, [new SizeFilter()])).rejects.toBe(failure);
  });
});

describe('decodeStored of an encrypted, compressed file', () => {
  it('refuses the wrong key, a file cut at a chunk boundary, and a flipped bit with a crypto error', async () => {
    const data = randomBytes(2 * CHUNK_SIZE);
    const stored = new BufferSink();
    await copy(chunkedSource(data), stored, [
      createCompressFilter('zst', 1) as Transform,
      new EncryptFilter(KEY),
    ]);
    const file = stored.data;
    const options = { compressType: 'zst', key: KEY, lz4OnPool: false } as const;
    expect((await decoded(bufferSource(file), options)).equals(data)).toBe(true);
    const cryptoError = async (bytes: Buffer, key = KEY): Promise<Error> => {
      const error = await decoded(bufferSource(bytes), { ...options, key }).catch(
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

describe('bufferSource', () => {
  it('streams a buffer, or nothing for an empty one', async () => {
    for (const data of [Buffer.from('abc'), Buffer.alloc(0)]) {
      const sink = new BufferSink();
      await copy(bufferSource(data), sink, []);
      expect(sink.data.equals(data)).toBe(true);
      expect(sink.chunks.length).toBe(data.length === 0 ? 0 : 1);
    }
  });
});
