// The bounded, fail-fast job pool.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { runParallel } from '../../../src/io/parallel.js';

describe('runParallel', () => {
  it('never runs more than `concurrency` jobs and runs them all', async () => {
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    await runParallel([1, 2, 3, 4, 5, 6, 7], {
      concurrency: 3,
      worker: async (n) => {
        running++;
        peak = Math.max(peak, running);
        await sleep(5 * (n % 3));
        running--;
        return n * 2;
      },
      onResult: (result) => done.push(result),
    });
    expect(peak).toBe(3);
    expect(done.sort((a, b) => a - b)).toEqual([2, 4, 6, 8, 10, 12, 14]);
  });

  it('pulls lazily from an async iterable and stops starting jobs after the first error', async () => {
    let pulled = 0;
    async function* items() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield i;
      }
    }
    await expect(
      runParallel(items(), {
        concurrency: 2,
        worker: async (n) => {
          await sleep(1);
          if (n === 3) throw new Error('job 3 failed');
        },
      }),
    ).rejects.toThrow('job 3 failed');
    expect(pulled).toBeLessThan(10);
  });
});
