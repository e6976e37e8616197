// Memory stays bounded: 512 MiB streamed through hash, zst, encrypt, decrypt, decompress, hash (RSS measured).
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createCompressFilter, createDecompressFilter } from '../../../src/io/compress.js';
import { copy } from '../../../src/io/copy.js';
import { DecryptFilter } from '../../../src/io/filter/decrypt.js';
import { EncryptFilter } from '../../../src/io/filter/encrypt.js';
import { HashFilter } from '../../../src/io/filter/hash.js';
import { SizeFilter } from '../../../src/io/filter/size.js';
import { makeData } from './helpers.js';

const MiB = 1024 * 1024;
const PIECE = 256 * 1024;

/** `total` bytes in fresh 256 KiB buffers (as a file read would give), alternating random and text-like data. */
function generated(total: number): Readable {
  const randomPool = randomBytes(8 * MiB);
  const textPool = makeData(8 * MiB, 'text', 17);
  let produced = 0;
  let index = 0;
  return new Readable({
    read(): void {
      if (produced >= total) {
        this.push(null);
        return;
      }
      const pool = index % 3 === 0 ? randomPool : textPool;
      const offset = (index * 104_729) % (pool.length - PIECE);
      index++;
      produced += PIECE;
      this.push(Buffer.from(pool.subarray(offset, offset + PIECE)));
    },
  });
}

/** Runs the round trip chain over `total` bytes; returns the input and output digests and the output size. */
async function roundTrip(total: number): Promise<{ input: string; output: string; size: number }> {
  const key = randomBytes(32);
  const inputHash = new HashFilter();
  const outputHash = new HashFilter();
  const size = new SizeFilter();
  const compress = createCompressFilter('zst', 3);
  const decompress = createDecompressFilter('zst');
  if (compress === undefined || decompress === undefined) throw new Error('no zst filters');
  const sink = new Writable({
    write(_chunk: Buffer, _encoding, callback): void {
      callback();
    },
  });
  await copy(generated(total), sink, [
    inputHash,
    compress,
    new EncryptFilter(key),
    new DecryptFilter(key),
    decompress,
    outputHash,
    size,
  ]);
  return { input: inputHash.digest(), output: outputHash.digest(), size: size.size };
}

describe('the io pipeline', () => {
  it('streams 512 MiB through hash, zst, encrypt, decrypt, decompress with RSS growing < 100 MiB', async () => {
    // Warm up: load the native modules and let the allocator and V8 settle before taking the baseline.
    await roundTrip(16 * MiB);
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 50);
    try {
      const result = await roundTrip(512 * MiB);
      peak = Math.max(peak, process.memoryUsage.rss());
      expect(result.size).toBe(512 * MiB);
      expect(result.output).toBe(result.input);
    } finally {
      clearInterval(sampler);
    }
    const growth = (peak - baseline) / MiB;
    console.log(
      `io pipeline RSS: baseline ${(baseline / MiB).toFixed(0)} MiB, peak growth ${growth.toFixed(1)} MiB`,
    );
    expect(growth).toBeLessThan(100);
  }, 600_000);
});
