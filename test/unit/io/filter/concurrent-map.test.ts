// Tests for ConcurrentMapFilter: order kept, concurrency and memory bounded, back-pressure, errors.
import { setTimeout as sleep } from 'node:timers/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FixedSizeSplitter, type Splitter } from '../../../../src/io/chunker.js';
import { ConcurrentMapFilter } from '../../../../src/io/filter/concurrent-map.js';
import { PgStashError } from '../../../../src/common/errors.js';
import { chunkSizes, runFilters } from '../helpers.js';

/** A mapper that reverses each unit after a random delay, recording how many run at once. */
function delayedReverse(delays: readonly number[]): {
  map: (unit: Buffer, index: number) => Promise<Buffer>;
  maxActive: () => number;
  started: () => number;
} {
  let active = 0;
  let maxActive = 0;
  let started = 0;
  return {
    map: async (unit, index) => {
      started++;
      active++;
      maxActive = Math.max(maxActive, active);
      await sleep(delays[index % delays.length] ?? 0);
      active--;
      return Buffer.from(unit).reverse();
    },
    maxActive: () => maxActive,
    started: () => started,
  };
}

describe('ConcurrentMapFilter', () => {
  it('emits every unit mapped, in input order, never running more than the limit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        chunkSizes,
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 7 }),
        async (bytes, sizes, unitSize, concurrency, delays) => {
          const data = Buffer.from(bytes);
          const mapper = delayedReverse(delays);
          const filter = new ConcurrentMapFilter({
            splitter: new FixedSizeSplitter(unitSize),
            map: mapper.map,
            concurrency,
          });
          const output = await runFilters(
            data,
            [filter],
            sizes.map((size) => Math.min(size, 500)),
          );
          const expected: Buffer[] = [];
          for (let offset = 0; offset < data.length; offset += unitSize) {
            expected.push(Buffer.from(data.subarray(offset, offset + unitSize)).reverse());
          }
          expect(output).toEqual(Buffer.concat(expected));
          expect(mapper.maxActive()).toBeLessThanOrEqual(concurrency);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('runs units concurrently when they are available', async () => {
    const mapper = delayedReverse([20]);
    const filter = new ConcurrentMapFilter({
      splitter: new FixedSizeSplitter(10),
      map: mapper.map,
      concurrency: 3,
    });
    await runFilters(Buffer.alloc(100), [filter], [100]);
    expect(mapper.maxActive()).toBe(3);
  });

  it('stops taking input while a slow consumer has not read the output (bounded memory)', async () => {
    const unit = 16 * 1024;
    const chunk = 64 * 1024;
    const mapper = delayedReverse([0, 1]);
    const filter = new ConcurrentMapFilter({
      splitter: new FixedSizeSplitter(unit),
      map: mapper.map,
      concurrency: 4,
    });
    let produced = 0;
    const source = new Readable({
      read(): void {
        produced += chunk;
        this.push(produced > 200 * chunk ? null : Buffer.alloc(chunk));
      },
    });
    let consumed = 0;
    let maxBacklog = 0;
    const sink = new Writable({
      highWaterMark: 1,
      write(data: Buffer, _encoding, callback): void {
        consumed += data.length;
        maxBacklog = Math.max(maxBacklog, produced - consumed);
        setTimeout(callback, 1);
      },
    });
    await pipeline(source, filter, sink);
    expect(consumed).toBe(200 * chunk);
    // Held back: a source chunk in each stream buffer, the units of one write, 4 unit slots, one output.
    expect(maxBacklog).toBeLessThanOrEqual(3 * chunk + 6 * unit);
  });

  it('fails with the error of a failing unit', async () => {
    const failure = new PgStashError('format', 'bad unit');
    const filter = new ConcurrentMapFilter({
      splitter: new FixedSizeSplitter(10),
      map: async (unit, index) => {
        await sleep(index === 3 ? 5 : 0);
        if (index === 3) throw failure;
        return unit;
      },
      concurrency: 2,
    });
    await expect(runFilters(Buffer.alloc(100), [filter], [7])).rejects.toBe(failure);
  });

  it('fails with the error of a mapper that throws synchronously', async () => {
    const failure = new Error('sync');
    const filter = new ConcurrentMapFilter({
      splitter: new FixedSizeSplitter(10),
      map: () => {
        throw failure;
      },
      concurrency: 2,
    });
    await expect(runFilters(Buffer.alloc(30), [filter])).rejects.toBe(failure);
  });

  it('fails with the error of the splitter, on write and at the end', async () => {
    const failure = new PgStashError('format', 'bad input');
    const failing = (where: 'write' | 'end'): Splitter => ({
      write: (chunk) => {
        if (where === 'write') throw failure;
        return [chunk];
      },
      end: () => {
        throw failure;
      },
    });
    for (const where of ['write', 'end'] as const) {
      const filter = new ConcurrentMapFilter({
        splitter: failing(where),
        map: async (unit) => unit,
        concurrency: 2,
      });
      await expect(runFilters(Buffer.alloc(30), [filter])).rejects.toBe(failure);
    }
  });

  it('rejects a concurrency below 1', () => {
    expect(
      () =>
        new ConcurrentMapFilter({
          splitter: new FixedSizeSplitter(1),
          map: async (unit) => unit,
          concurrency: 0,
        }),
    ).toThrow(RangeError);
  });
});
