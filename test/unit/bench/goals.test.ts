// Issue 14's goals: a figure against its limit, and the text the report shows.
import { describe, expect, it } from 'vitest';
import { atMost, below, GOALS, ratioAtMost, shareBelow } from '../../../bench/goals.js';
import { formatMiB } from '../../../bench/table.js';

describe('goals', () => {
  it('atMost includes the limit, below does not', () => {
    expect(atMost(GOALS.hotSetBytes, GOALS.hotSetBytes, formatMiB)).toEqual({
      met: true,
      text: '2.1 MiB <= 2.1 MiB: met',
    });
    expect(atMost(83 * 1024 * 1024, GOALS.hotSetBytes, formatMiB).met).toBe(false);
    expect(below(2, 2, String)).toEqual({ met: false, text: '2 < 2: MISSED' });
    expect(below(1, 2, String).met).toBe(true);
  });

  it('ratioAtMost divides by the reference and has no verdict without one', () => {
    expect(ratioAtMost(1.2, 1, GOALS.chainRestoreRatio)).toEqual({ met: true, text: '1.20x <= 1.2x: met' });
    expect(ratioAtMost(3, 10, GOALS.deltaRestoreTimeRatio)).toEqual({
      met: false,
      text: '0.30x <= 0.2x: MISSED',
    });
    expect(ratioAtMost(1, 0, 1)).toEqual({ met: false, text: 'n/a' });
  });

  it('shareBelow shows percent', () => {
    expect(shareBelow(4, 100, GOALS.deltaRestoreWrittenRatio)).toEqual({
      met: true,
      text: '4.0 % < 5 %: met',
    });
    expect(shareBelow(5, 100, GOALS.deltaRestoreWrittenRatio).met).toBe(false);
  });
});
