// Tests for the progress arithmetic: percent, rate over a window, ETA and their text, sane at the start and the end.
import { describe, expect, it } from 'vitest';
import {
  etaOf,
  figuresOf,
  formatEta,
  formatRate,
  percentOf,
  progressText,
  RATE_MIN_SPAN_MS,
  RateMeter,
} from '../../../../src/command/progress/figures.js';

describe('percentOf', () => {
  it('is 0 while the total is unknown or nothing is done, never NaN or Infinity', () => {
    expect(percentOf(0, 0)).toBe(0);
    expect(percentOf(5, 0)).toBe(0);
    expect(percentOf(0, 100)).toBe(0);
  });

  it('rounds down to a tenth, so 100 means everything is done', () => {
    expect(percentOf(1, 3)).toBe(33.3);
    expect(percentOf(2, 3)).toBe(66.6);
    expect(percentOf(999_999, 1_000_000)).toBe(99.9);
    expect(percentOf(1_000_000, 1_000_000)).toBe(100);
  });

  it('stops at 100 when files grew past the listed total', () => {
    expect(percentOf(150, 100)).toBe(100);
  });

  it('keeps precision for totals past 2^32', () => {
    expect(percentOf(2 ** 40 / 4, 2 ** 40)).toBe(25);
  });
});

describe('RateMeter', () => {
  it('has no rate until its samples span RATE_MIN_SPAN_MS (no rate from the first instant)', () => {
    const meter = new RateMeter();
    expect(meter.rate()).toBeUndefined();
    meter.sample(0, 0);
    expect(meter.rate()).toBeUndefined();
    meter.sample(100, 50_000_000);
    expect(meter.rate()).toBeUndefined();
    meter.sample(RATE_MIN_SPAN_MS, 100_000_000);
    expect(meter.rate()).toBe(100_000_000 / (RATE_MIN_SPAN_MS / 1000));
  });

  it('measures over the recent window only: a slowdown shows within the window', () => {
    const meter = new RateMeter(10_000);
    // 10 MB/s for 60 s, then 1 MB/s for 20 s.
    let bytes = 0;
    for (let second = 0; second <= 60; second++) meter.sample(second * 1000, (bytes = second * 10_000_000));
    expect(meter.rate()).toBeCloseTo(10_000_000);
    for (let second = 61; second <= 80; second++) meter.sample(second * 1000, (bytes += 1_000_000));
    expect(meter.rate()).toBeCloseTo(1_000_000);
  });

  it('is 0, not negative, when nothing moves; ignores a sample from the past', () => {
    const meter = new RateMeter();
    meter.sample(0, 10);
    meter.sample(5000, 10);
    meter.sample(4000, 0);
    expect(meter.rate()).toBe(0);
  });
});

describe('etaOf and formatEta', () => {
  it('has no ETA without a rate or with a rate of 0 (no division by zero)', () => {
    expect(etaOf({ bytesDone: 0, bytesTotal: 100 }, undefined)).toBeUndefined();
    expect(etaOf({ bytesDone: 0, bytesTotal: 100 }, 0)).toBeUndefined();
    expect(formatEta(undefined)).toBe('--:--');
  });

  it('is what is left over the rate, rounded up, and 0 once done (or past the total)', () => {
    expect(etaOf({ bytesDone: 40, bytesTotal: 100 }, 20)).toBe(3);
    expect(etaOf({ bytesDone: 40, bytesTotal: 100 }, 7)).toBe(9);
    expect(etaOf({ bytesDone: 120, bytesTotal: 100 }, 7)).toBe(0);
  });

  it('formats minutes:seconds, hours when needed, and caps an absurd ETA', () => {
    expect(formatEta(0)).toBe('0:00');
    expect(formatEta(3)).toBe('0:03');
    expect(formatEta(247)).toBe('4:07');
    expect(formatEta(3909)).toBe('1:05:09');
    expect(formatEta(99 * 3600 + 59 * 60)).toBe('99:59:00');
    expect(formatEta(100 * 3600)).toBe('>100h');
    expect(formatEta(1e12)).toBe('>100h');
    expect(formatEta(Infinity)).toBe('--:--');
  });
});

describe('progressText', () => {
  it('gives percent, total, rate, ETA and files in one line', () => {
    const figures = figuresOf(
      { bytesTotal: 4 * 1024 ** 3, bytesDone: 1024 ** 3, filesTotal: 967, filesDone: 120 },
      32 * 1024 ** 2,
    );
    expect(figures.etaSeconds).toBe(96);
    expect(progressText(figures)).toBe('25.0% of 4.0GB, 32.0MB/s, ETA 1:36, 120/967 files');
  });

  it('shows unknown figures as such at the start', () => {
    const figures = figuresOf({ bytesTotal: 100, bytesDone: 0, filesTotal: 3, filesDone: 0 }, undefined);
    expect(progressText(figures)).toBe('0.0% of 100B, --, ETA --:--, 0/3 files');
    expect(formatRate(undefined)).toBe('--');
  });

  it('tells checked from rewritten files for restore --delta', () => {
    const figures = figuresOf(
      { bytesTotal: 1000, bytesDone: 500, filesTotal: 10, filesDone: 6, delta: { kept: 4, written: 2 } },
      undefined,
    );
    expect(progressText(figures)).toBe('50.0% of 1000B, --, ETA --:--, 6/10 files checked, 2 rewritten');
  });
});
