// Markdown tables and number formats of the benchmark report.
import { describe, expect, it } from 'vitest';
import { formatMiB, formatMs, formatRatio, formatSeconds, markdownTable } from '../../../bench/table.js';

describe('markdownTable', () => {
  it('pads columns and marks right-aligned ones with a colon', () => {
    const table = markdownTable(
      ['case', 'time'],
      [
        ['lz4', '1.0 s'],
        ['zst', '12.5 s'],
      ],
      ['left'],
    );
    expect(table.split('\n')).toEqual([
      '| case |   time |',
      '| ---- | -----: |',
      '| lz4  |  1.0 s |',
      '| zst  | 12.5 s |',
    ]);
  });

  it('fills missing cells with blanks', () => {
    expect(markdownTable(['a', 'b'], [['x']]).split('\n')[2]).toBe('|   x |     |');
  });
});

describe('formats', () => {
  it('formats milliseconds, seconds, MiB and ratios', () => {
    expect(formatMs(85.46)).toBe('85.5 ms');
    expect(formatMs(340.4)).toBe('340 ms');
    expect(formatSeconds(7140)).toBe('7.14 s');
    expect(formatSeconds(11_730)).toBe('11.7 s');
    expect(formatMiB(3.5 * 1024 * 1024)).toBe('3.5 MiB');
    expect(formatRatio(345, 136)).toBe('2.54x');
    expect(formatRatio(1100, 100)).toBe('11.0x');
    expect(formatRatio(1, 0)).toBe('n/a');
  });
});
