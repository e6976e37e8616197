// Tests for restore --delta's job order: batches of small files first, the others in the order they came.
import { describe, expect, it } from 'vitest';
import { inBatches } from '../../../../src/command/copy-order.js';
import { smallBatchesFirst } from '../../../../src/command/restore/delta-order.js';
import type { ManifestFile } from '../../../../src/repo/manifest.js';

describe('smallBatchesFirst', () => {
  it('puts the batches of several small files first and keeps the large files largest first after them', () => {
    const sizes = [900 << 20, 64 << 20, 2 << 20, 300 << 10, 8192, 8192, 8192, 16, 0];
    const files = sizes.map((size, index) => ({ name: `pg_data/base/5/${index}`, size }) as ManifestFile);
    const batches = inBatches(files, { smallerThan: 256 * 1024, files: 2, bytes: 1024 * 1024 });
    const { first, rest } = smallBatchesFirst(batches.map((batch) => ({ files: batch })));
    expect(first.map((job) => job.files.map((file) => file.size))).toEqual([
      [8192, 8192],
      [8192, 16],
    ]);
    expect(rest.map((job) => job.files.map((file) => file.size))).toEqual([
      [900 << 20],
      [64 << 20],
      [2 << 20],
      [300 << 10],
      [0],
    ]);
    // Nothing lost, nothing twice.
    expect([...first, ...rest].flatMap((job) => job.files).length).toBe(files.length);
  });
});
