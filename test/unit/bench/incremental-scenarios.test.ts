// The contiguous 1 % of pgbench_accounts that the hot-set and delta-restore scenarios update.
import { describe, expect, it } from 'vitest';
import { contiguousRange } from '../../../bench/incremental-scenarios.js';

describe('contiguousRange', () => {
  it('is 1 % of the scale x 100 000 rows, starting at the given fraction of the table', () => {
    expect(contiguousRange(50, 0.25)).toEqual({ first: 1_250_001, last: 1_300_000 });
    expect(contiguousRange(3, 0.5)).toEqual({ first: 150_001, last: 153_000 });
    expect(contiguousRange(1, 0)).toEqual({ first: 1, last: 1000 });
  });

  it('stays inside the table when the start is near its end', () => {
    expect(contiguousRange(1, 1)).toEqual({ first: 99_001, last: 100_000 });
  });
});
