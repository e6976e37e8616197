// Memory stays bounded: 512 MiB streamed through hash, zst, encrypt (the write filters), then read back through
// decodeStored (decrypt, decompress: the loop restore and archive-get use) and hashed, all at once (RSS measured).
// The pipeline runs in a child process of its own (the built modules in dist/), so the figure is the pipeline's,
// not the test runner's heap and caches.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../harness/pgstash.js';

const run = promisify(execFile);
const module = (path: string) => JSON.stringify(pathToFileURL(join(REPO_ROOT, 'dist', 'src', path)).href);

/** Streams `total` bytes of fresh 256 KiB buffers (as a file read gives them), alternating random and text. */
const SCRIPT = `
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { createCompressFilter } from ${module('io/compress.js')};
import { copy } from ${module('io/copy.js')};
import { decodeStored } from ${module('io/decode.js')};
import { EncryptFilter } from ${module('io/filter/encrypt.js')};
import { HashFilter } from ${module('io/filter/hash.js')};

const MiB = 1024 * 1024;
const PIECE = 256 * 1024;
const words = 'the quick brown fox jumps over the lazy dog while pgstash archives every WAL segment '.split(' ');
const text = Buffer.from(Array.from({ length: 8 * MiB / 6 }, (_, i) => words[(i * 7919) % words.length]).join(' '));

function generated(total) {
  const random = randomBytes(8 * MiB);
  let produced = 0;
  let index = 0;
  return new Readable({
    read() {
      if (produced >= total) return void this.push(null);
      const pool = index % 3 === 0 ? random : text;
      const offset = (index * 104729) % (pool.length - PIECE);
      index++;
      produced += PIECE;
      this.push(Buffer.from(pool.subarray(offset, offset + PIECE)));
    },
  });
}

// The stored bytes flow straight from the writing pipeline into decodeStored, which hashes them as
// Repository.getChunks does: nothing is held but what the filters and decodeStored hold.
async function roundTrip(total) {
  const key = randomBytes(32);
  const input = new HashFilter();
  const stored = new PassThrough();
  const writing = copy(generated(total), stored, [input, createCompressFilter('zst', 3), new EncryptFilter(key)]);
  const output = createHash('sha256');
  let size = 0;
  for await (const chunk of decodeStored(stored, { compressType: 'zst', key, lz4OnPool: false })) {
    output.update(chunk);
    size += chunk.length;
  }
  await writing;
  return { input: input.digest(), output: output.digest('hex'), size };
}

// Warm up: load the native modules and let the allocator and V8 settle before taking the baseline.
await roundTrip(16 * MiB);
const baseline = process.memoryUsage.rss();
let peak = baseline;
const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 50);
const result = await roundTrip(512 * MiB);
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage.rss());
console.log(JSON.stringify({ ...result, baseline, growth: (peak - baseline) / MiB }));
`;

describe('the io pipeline', () => {
  it('streams 512 MiB through hash, zst, encrypt, then decodeStored, with RSS growing < 100 MiB', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgstash-memory-'));
    try {
      const script = join(dir, 'pipeline.mjs');
      await writeFile(script, SCRIPT);
      const { stdout } = await run(process.execPath, [script], { maxBuffer: 1024 * 1024 });
      const measured = JSON.parse(stdout) as {
        input: string;
        output: string;
        size: number;
        baseline: number;
        growth: number;
      };
      console.log(
        `io pipeline RSS: baseline ${(measured.baseline / 1024 / 1024).toFixed(0)} MiB, peak growth ${measured.growth.toFixed(1)} MiB`,
      );
      expect(measured.size).toBe(512 * 1024 * 1024);
      expect(measured.output).toBe(measured.input);
      expect(measured.growth).toBeLessThan(100);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
