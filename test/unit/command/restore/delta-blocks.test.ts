// Tests for blockRanges: the ranges restore --delta splits a large block-stored file into cover each block once.
import { describe, expect, it } from 'vitest';
import { blockRanges } from '../../../../src/command/restore/delta-blocks.js';
import type { BlockFile } from '../../../../src/repo/block-read.js';

function blockFile(size: number, blockSize: number): BlockFile {
  return { name: 'pg_data/base/1/16384', size, stored: { block: { blockSize } } } as unknown as BlockFile;
}

describe('blockRanges', () => {
  it('covers every block once, in order, in at most `parts` ranges of about equal size', () => {
    for (const [size, blockSize, parts] of [
      [640 * 1024 * 1024, 65536, 2],
      [107 * 1024 * 1024 + 8192, 8192, 3],
      [3 * 8192 + 100, 8192, 8],
      [8192, 8192, 2],
      [65536 * 7, 65536, 7],
    ] as const) {
      const count = Math.ceil(size / blockSize);
      const ranges = blockRanges(blockFile(size, blockSize), parts, 1234);
      expect(ranges.length).toBeLessThanOrEqual(Math.min(parts, count));
      expect(ranges[0]?.first).toBe(0);
      expect(ranges.at(-1)?.end).toBe(count);
      for (const [index, range] of ranges.entries()) {
        expect(range.end).toBeGreaterThan(range.first);
        expect(range.inPlaceSize).toBe(1234);
        if (index > 0) expect(range.first).toBe(ranges[index - 1]?.end);
        expect(range.end - range.first).toBeLessThanOrEqual(Math.ceil(count / parts));
      }
    }
  });
});
