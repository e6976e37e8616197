// Tests for the copy order of backup and restore: largest first, ties by name, large files alone on a worker.
import { describe, expect, it } from 'vitest';
import { largestFirst, poolOptionsFor, RUNS_ALONE_BYTES } from '../../../src/command/copy-order.js';

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
});
