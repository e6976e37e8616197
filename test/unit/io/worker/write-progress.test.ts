// Tests for WriteProgress: a reader waits for reported lengths, across threads, and stops on failure or job end.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WriteProgress } from '../../../../src/io/worker/write-progress.js';
import { transpile } from '../../../harness/transpile.js';

/** A writer thread: reports `lengths` one by one, a few milliseconds apart, then fails if asked. */
const WRITER = `
import { workerData } from 'node:worker_threads';
import { WriteProgress } from './src/io/worker/write-progress.js';
const progress = WriteProgress.attach(workerData.buffer);
for (const length of workerData.lengths) {
  await new Promise((resolve) => setTimeout(resolve, 5));
  progress.report(length);
}
if (workerData.fail) progress.fail();
`;

let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'pgstash-progress-'));
  await transpile(base, ['src/io/worker/write-progress.ts']);
  await writeFile(join(base, 'writer.mjs'), WRITER);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const never = new Promise<never>(() => undefined);

describe('WriteProgress', () => {
  it('resolves once more than the known length is written, with the length', async () => {
    const progress = WriteProgress.create();
    const first = progress.beyond(-1, never);
    progress.report(0);
    expect(await first).toBe(0);
    const next = progress.beyond(0, never);
    let settled = false;
    void next.then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    progress.report(4096);
    expect(await next).toBe(4096);
    // Already beyond: at once.
    expect(await progress.beyond(100, never)).toBe(4096);
  });

  it('gives undefined once the writer failed, or once the job ended without a report', async () => {
    const failed = WriteProgress.create();
    const waiting = failed.beyond(-1, never);
    failed.fail();
    expect(await waiting).toBeUndefined();
    const silent = WriteProgress.create();
    let endJob = (): void => undefined;
    const job = new Promise<void>((resolve) => (endJob = resolve));
    const stalled = silent.beyond(-1, job);
    endJob();
    expect(await stalled).toBeUndefined();
    const rejected = WriteProgress.create();
    expect(await rejected.beyond(-1, Promise.reject(new Error('worker died')))).toBeUndefined();
  });

  it('carries lengths from a writer thread through shared memory (not a copy)', async () => {
    const progress = WriteProgress.create();
    const lengths = [0, 2 ** 20, 3 * 2 ** 30, 5 * 2 ** 30];
    const worker = new Worker(new URL(`file://${join(base, 'writer.mjs')}`), {
      workerData: { buffer: progress.buffer, lengths, fail: false },
    });
    const ended = new Promise((resolve) => worker.once('exit', resolve));
    const seen: number[] = [];
    for (let known = -1; ;) {
      // The thread's exit ends the wait once its last report is read.
      const length = await progress.beyond(known, ended);
      if (length === undefined) break;
      seen.push(length);
      known = length;
    }
    await ended;
    // Every length is above the one before, and the last one arrives (lengths past 4 GiB included).
    expect(seen.at(-1)).toBe(5 * 2 ** 30);
    for (let index = 1; index < seen.length; index++)
      expect(seen[index]).toBeGreaterThan(seen[index - 1] ?? 0);
  });
});
