// The bounded, fail-fast job pool and the ordered map.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { mapInOrder, runParallel } from '../../../src/io/parallel.js';

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

describe('mapInOrder', () => {
  it('yields results in input order with at most `concurrency` maps running', async () => {
    let running = 0;
    let most = 0;
    const delays = [30, 5, 20, 1, 15, 2, 8];
    const results: number[] = [];
    for await (const { item, result } of mapInOrder(
      delays.keys(),
      async (index) => {
        running++;
        most = Math.max(most, running);
        await sleep(delays[index]);
        running--;
        return index * 10;
      },
      3,
    )) {
      expect(result).toBe(item * 10);
      results.push(result);
    }
    expect(results).toEqual([0, 10, 20, 30, 40, 50, 60]);
    expect(most).toBe(3);
  });

  it('throws a failed map when its turn comes, after the results before it', async () => {
    const seen: number[] = [];
    const run = async (): Promise<void> => {
      for await (const { result } of mapInOrder(
        [1, 2, 3, 4],
        async (value) => {
          // The third fails before the first two have finished.
          if (value === 3) throw new Error('map failed');
          await sleep(20);
          return value;
        },
        4,
      ))
        seen.push(result);
    };
    await expect(run()).rejects.toThrow('map failed');
    expect(seen).toEqual([1, 2]);
  });
});
