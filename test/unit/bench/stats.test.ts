// Order statistics used by the benchmark report.
import { describe, expect, it } from 'vitest';
import { quantile, summarize } from '../../../bench/stats.js';

describe('quantile', () => {
  it('interpolates between the closest ranks', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([4, 1, 3, 2, 5], 0.5)).toBe(3);
    // 20 values 1..20: position 0.9 * 19 = 17.1, between the 18th (18) and the 19th (19).
    const twenty = Array.from({ length: 20 }, (_, index) => 20 - index);
    expect(quantile(twenty, 0.9)).toBeCloseTo(18.1, 10);
  });

  it('returns the only value of a one-element sample and the extremes at 0 and 1', () => {
    expect(quantile([7], 0.9)).toBe(7);
    expect(quantile([3, 9, 1], 0)).toBe(1);
    expect(quantile([3, 9, 1], 1)).toBe(9);
  });

  it('refuses an empty sample', () => {
    expect(() => quantile([], 0.5)).toThrow('empty');
    expect(() => summarize([])).toThrow('empty');
  });
});

describe('summarize', () => {
  it('reports n, min, median, p90, max and mean without reordering its input', () => {
    const values = [10, 30, 20, 40];
    expect(summarize(values)).toEqual({ n: 4, min: 10, median: 25, p90: 37, max: 40, mean: 25 });
    expect(values).toEqual([10, 30, 20, 40]);
  });
});
