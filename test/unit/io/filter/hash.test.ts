// Tests for HashFilter: SHA-256 of the stream, read after the copy.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPgStashError } from '../../../../src/common/errors.js';
import { HashFilter } from '../../../../src/io/filter/hash.js';
import { chunkSizes, runFilters } from '../helpers.js';

describe('HashFilter', () => {
  it('computes the SHA-256 of the stream and passes it through, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 100_000 }), chunkSizes, async (bytes, sizes) => {
        const data = Buffer.from(bytes);
        const filter = new HashFilter('sha256');
        expect(await runFilters(data, [filter], sizes)).toEqual(data);
        expect(filter.digest()).toBe(createHash('sha256').update(data).digest('hex'));
      }),
      { numRuns: 50 },
    );
  });

  it('hashes an empty input to the well-known empty digest', async () => {
    const filter = new HashFilter();
    await runFilters(Buffer.alloc(0), [filter]);
    expect(filter.digest()).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('refuses to give a digest before the copy has finished', () => {
    const filter = new HashFilter();
    let error: unknown;
    try {
      filter.digest();
    } catch (caught) {
      error = caught;
    }
    expect(isPgStashError(error, 'assert')).toBe(true);
  });
});
