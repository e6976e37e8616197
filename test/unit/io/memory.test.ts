// Memory stays bounded: 512 MiB through the chunk loop's write side (encodeStored: hash, zst, encrypt), read back
// at once through its read side (decodeStored: decrypt, decompress, as restore and archive-get read) and hashed
// (RSS measured). The loop runs in a child process of its own (the built modules in dist/), so the figure is the
// loop's, not the test runner's heap and caches.
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

/** Feeds `total` bytes in fresh 1 MiB chunks (as a backup reads a file), alternating random and text. */
const SCRIPT = `
import { randomBytes } from 'node:crypto';
import { decodeStored } from ${module('io/decode.js')};
import { encodeStored } from ${module('io/encode.js')};
import { ContentDigest } from ${module('io/stage.js')};

const MiB = 1024 * 1024;
const words = 'the quick brown fox jumps over the lazy dog while pgstash archives every WAL segment '.split(' ');
const text = Buffer.from(Array.from({ length: 8 * MiB / 6 }, (_, i) => words[(i * 7919) % words.length]).join(' '));

async function* generated(total) {
  const random = randomBytes(8 * MiB);
  for (let produced = 0, index = 0; produced < total; produced += MiB, index++) {
    const pool = index % 3 === 0 ? random : text;
    const offset = (index * 104729) % (pool.length - MiB);
    yield Buffer.from(pool.subarray(offset, offset + MiB));
  }
}

// The stored bytes flow straight from encodeStored into decodeStored, which hashes them as Repository.getChunks
// does: nothing is held but what the two loops hold.
async function roundTrip(total) {
  const key = randomBytes(32);
  const input = new ContentDigest();
  const stored = encodeStored(generated(total), { compress: { type: 'zst', level: 3 }, key, original: [input] });
  const output = new ContentDigest();
  for await (const chunk of decodeStored(stored, { compressType: 'zst', key, lz4OnPool: false })) output.update(chunk);
  return { input: input.digest(), output: output.digest(), size: output.size };
}

// Warm up: load the native modules and let the allocator and V8 settle before taking the baseline.
await roundTrip(16 * MiB);
const baseline = process.memoryUsage.rss();
let peak = baseline;
const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 50);
const started = performance.now();
const result = await roundTrip(512 * MiB);
const ms = performance.now() - started;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage.rss());
console.log(JSON.stringify({ ...result, baseline, growth: (peak - baseline) / MiB, ms }));
`;

describe('the chunk loop', () => {
  it('takes 512 MiB through encodeStored (hash, zst, encrypt), then decodeStored, with RSS growing < 100 MiB', async () => {
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
        ms: number;
      };
      console.log(
        `chunk loop RSS: baseline ${(measured.baseline / 1024 / 1024).toFixed(0)} MiB, peak growth ${measured.growth.toFixed(1)} MiB; ${(512 / (measured.ms / 1000)).toFixed(0)} MiB/s`,
      );
      expect(measured.size).toBe(512 * 1024 * 1024);
      expect(measured.output).toBe(measured.input);
      expect(measured.growth).toBeLessThan(100);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
