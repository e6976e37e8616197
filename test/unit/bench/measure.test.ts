// GNU time's report as the benchmark asks for it: '%e %U %S %M %O' on the last line.
import { describe, expect, it } from 'vitest';
import { parseTimeReport } from '../../../bench/measure.js';

describe('parseTimeReport', () => {
  it('reads CPU time, peak RSS and bytes written (512-byte blocks)', () => {
    expect(parseTimeReport('1.52 0.80 0.31 145000 94208\n')).toEqual({
      cpuMs: 1110,
      maxRssKiB: 145000,
      writtenBytes: 94208 * 512,
    });
  });

  it('takes the last line after the line GNU time adds for a failed or killed command', () => {
    const report = 'Command terminated by signal 9\n0.70 0.10 0.05 90000 0\n';
    expect(parseTimeReport(report)).toMatchObject({ maxRssKiB: 90000, writtenBytes: 0 });
  });

  it('has nothing for a report in another format', () => {
    expect(parseTimeReport('1.52 0.80 0.31 145000')).toBeUndefined();
    expect(parseTimeReport('')).toBeUndefined();
    expect(parseTimeReport('a b c d e')).toBeUndefined();
  });
});
