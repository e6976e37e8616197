// Tests for the copy order of backup and restore: largest first, ties by name, large files alone on a worker.
import { describe, expect, it } from 'vitest';
import {
  inBatches,
  largestFirst,
  poolOptionsFor,
  RUNS_ALONE_BYTES,
} from '../../../src/command/copy-order.js';

describe('copy order', () => {
  it('puts larger files first and equal sizes in name order', () => {
    const files = [
      { name: 'pg_data/base/1/3', size: 8192 },
      { name: 'pg_data/base/1/16384', size: 1 << 30 },
      { name: 'pg_data/base/1/2', size: 8192 },
      { name: 'pg_data/PG_VERSION', size: 3 },
      { name: 'pg_data/base/1/16384.1', size: 5 << 20 },
    ];
    expect(files.sort(largestFirst).map((file) => file.name)).toEqual([
      'pg_data/base/1/16384',
      'pg_data/base/1/16384.1',
      'pg_data/base/1/2',
      'pg_data/base/1/3',
      'pg_data/PG_VERSION',
    ]);
  });

  it('runs a file alone on its worker from RUNS_ALONE_BYTES on', () => {
    expect(poolOptionsFor(RUNS_ALONE_BYTES - 1)).toEqual({ exclusive: false });
    expect(poolOptionsFor(RUNS_ALONE_BYTES)).toEqual({ exclusive: true });
    expect(poolOptionsFor(0)).toEqual({ exclusive: false });
  });

  describe('inBatches', () => {
    const limits = { smallerThan: 100, files: 3, bytes: 150 };
    const sizes = (batches: { size: number }[][]) => batches.map((batch) => batch.map((file) => file.size));

    it('sends large files alone and groups small ones up to the file count', () => {
      const files = [500, 100, 10, 10, 10, 10, 10, 0].map((size) => ({ size }));
      expect(sizes(inBatches(files, limits))).toEqual([[500], [100], [10, 10, 10], [10, 10, 0]]);
    });

    it('closes a batch before it would pass the byte limit, but never leaves a file out', () => {
      const files = [99, 99, 60, 40, 50, 1].map((size) => ({ size }));
      expect(sizes(inBatches(files, limits))).toEqual([[99], [99], [60, 40, 50], [1]]);
    });

    it('keeps every file once, in order', () => {
      const files = Array.from({ length: 50 }, (_, index) => ({ size: (index * 37) % 130, index }));
      const batches = inBatches(files, limits);
      expect(batches.flat()).toEqual(files);
      for (const batch of batches) {
        expect(batch.length).toBeGreaterThan(0);
        expect(batch.length).toBeLessThanOrEqual(limits.files);
        if (batch.length > 1)
          expect(batch.reduce((sum, file) => sum + file.size, 0)).toBeLessThanOrEqual(150);
      }
    });
  });
});
