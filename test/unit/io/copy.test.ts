// Tests for copy(): the whole filter chain in one pipeline, errors unchanged, destination destroyed on error.
import { randomBytes } from 'node:crypto';
import { Readable, Transform, Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPgStashError, PgStashError } from '../../../src/common/errors.js';
import { createCompressFilter, createDecompressFilter, type CompressType } from '../../../src/io/compress.js';
import { bufferSource, copy, readToBuffer } from '../../../src/io/copy.js';
import { DecryptFilter } from '../../../src/io/filter/decrypt.js';
import { EncryptFilter } from '../../../src/io/filter/encrypt.js';
import { HashFilter } from '../../../src/io/filter/hash.js';
import { SizeFilter } from '../../../src/io/filter/size.js';
import { BufferSink, chunkSizes, chunkedSource, sha256, testData } from './helpers.js';

const KEY = randomBytes(32);

/** A destination that records how it ended. */
class RecordingSink extends BufferSink {
  destroyedWith: Error | null | undefined;

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.destroyedWith = error;
    callback(error);
  }
}

describe('copy', () => {
  it('runs the full chain and its inverse; results are read from the filters afterwards', async () => {
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

          const decompress = createDecompressFilter(type);
          const restoredHash = new HashFilter();
          const restored = new BufferSink();
          await copy(chunkedSource(stored.data, sizes), restored, [
            ...(encrypted ? [new DecryptFilter(KEY)] : []),
            ...(decompress ? [decompress] : []),
            restoredHash,
          ]);
          expect(restoredHash.digest()).toBe(hash.digest());
          expect(restored.data.equals(data)).toBe(true);
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

  it('destroys the destination with a decryption error from real data', async () => {
    const stored = new BufferSink();
    await copy(bufferSource(Buffer.from('secret')), stored, [new EncryptFilter(KEY)]);
    const sink = new RecordingSink();
    const error = await copy(bufferSource(stored.data), sink, [new DecryptFilter(randomBytes(32))]).catch(
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

describe('readToBuffer', () => {
  it('reads a small file through filters', async () => {
    const stored = new BufferSink();
    await copy(bufferSource(Buffer.from('[backrest]\nformat=5\n')), stored, [new EncryptFilter(KEY)]);
    const data = await readToBuffer(bufferSource(stored.data), [new DecryptFilter(KEY)], 1000);
    expect(data.toString()).toBe('[backrest]\nformat=5\n');
  });

  it('refuses more than maxBytes with a format error', async () => {
    const error = await readToBuffer(bufferSource(Buffer.alloc(1001)), [], 1000).catch(
      (caught: unknown) => caught,
    );
    expect(isPgStashError(error, 'format')).toBe(true);
    expect((error as Error).message).toBe('unexpected file size: more than 1000 bytes');
    expect((await readToBuffer(bufferSource(Buffer.alloc(1000)), [], 1000)).length).toBe(1000);
  });
});

describe('bufferSource', () => {
  it('streams a buffer, or nothing for an empty one', async () => {
    expect((await readToBuffer(bufferSource(Buffer.from('abc')), [], 10)).toString()).toBe('abc');
    expect((await readToBuffer(bufferSource(Buffer.alloc(0)), [], 10)).length).toBe(0);
  });
});
