// Tests for SizeFilter: counts every byte and passes data through unchanged.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SizeFilter } from '../../../../src/io/filter/size.js';
import { chunkSizes, runFilters } from '../helpers.js';

describe('SizeFilter', () => {
  it('counts the bytes and passes them through, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 100_000 }), chunkSizes, async (bytes, sizes) => {
        const data = Buffer.from(bytes);
        const filter = new SizeFilter();
        expect(await runFilters(data, [filter], sizes)).toEqual(data);
        expect(filter.size).toBe(data.length);
      }),
      { numRuns: 50 },
    );
  });

  it('is 0 for an empty input', async () => {
    const filter = new SizeFilter();
    await runFilters(Buffer.alloc(0), [filter]);
    expect(filter.size).toBe(0);
  });
});
