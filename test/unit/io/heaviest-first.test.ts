// The ordered map that starts the heaviest items of its window first (verify's read loop).
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { mapHeaviestFirst } from '../../../src/io/heaviest-first.js';

describe('mapHeaviestFirst', () => {
  it('starts the heaviest item of the window first and yields every result in input order', async () => {
    // Item 5 is the heavy one, last in input order (as a large relation file can be in path order).
    const weights = [1, 2, 1, 3, 1, 50, 2];
    const started: number[] = [];
    let running = 0;
    let most = 0;
    const results: number[] = [];
    for await (const { item, result } of mapHeaviestFirst(
      weights.keys(),
      async (index) => {
        started.push(index);
        running++;
        most = Math.max(most, running);
        await sleep(weights[index] as number);
        running--;
        return index * 10;
      },
      { concurrency: 2, window: 16, weight: (index) => weights[index] as number },
    )) {
      expect(result).toBe(item * 10);
      results.push(result);
    }
    expect(results).toEqual([0, 10, 20, 30, 40, 50, 60]);
    expect(started[0]).toBe(5);
    // Then the others by weight, equal weights in input order.
    expect(started).toEqual([5, 3, 1, 6, 0, 2, 4]);
    expect(most).toBe(2);
  });

  it('never pulls more than the window ahead of the oldest result not yet yielded', async () => {
    let pulled = 0;
    async function* items(): AsyncGenerator<number> {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield i;
      }
    }
    let mostAhead = 0;
    let yielded = 0;
    for await (const { item } of mapHeaviestFirst(
      items(),
      async (n) => {
        // The first item is slow: the window fills behind it and pulling stops.
        await sleep(n === 0 ? 30 : 1);
        return n;
      },
      { concurrency: 3, window: 8, weight: () => 0 },
    )) {
      expect(item).toBe(yielded);
      yielded++;
      mostAhead = Math.max(mostAhead, pulled - yielded);
    }
    expect(yielded).toBe(100);
    expect(mostAhead).toBeLessThanOrEqual(8);
  });

  it('throws a failed map when its turn comes, after the results before it', async () => {
    const seen: number[] = [];
    const run = async (): Promise<void> => {
      for await (const { result } of mapHeaviestFirst(
        [1, 2, 3, 4],
        async (value) => {
          // The third fails before the first two have finished.
          if (value === 3) throw new Error('map failed');
          await sleep(20);
          return value;
        },
        { concurrency: 4, window: 4, weight: () => 0 },
      ))
        seen.push(result);
    };
    await expect(run()).rejects.toThrow('map failed');
    expect(seen).toEqual([1, 2]);
  });
});
