// Tests for the byte queue, fixed-size splitting and the chunk loop's whole chunks under arbitrary chunkings.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteQueue, CHUNK_SIZE, chunksOf, FixedSizeSplitter, wholeChunks } from '../../../src/io/chunker.js';
import { makeData } from './helpers.js';

/** Cuts `data` into pieces of the given sizes, cycled. */
function cut(data: Uint8Array, sizes: readonly number[]): Buffer[] {
  const pieces: Buffer[] = [];
  for (let offset = 0, index = 0; offset < data.length; index++) {
    const size = sizes[index % sizes.length] as number;
    pieces.push(Buffer.from(data.subarray(offset, offset + size)));
    offset += size;
  }
  return pieces;
}

const sizes = fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 6 });

describe('CHUNK_SIZE', () => {
  it('is 1 MiB', () => {
    expect(CHUNK_SIZE).toBe(1048576);
  });
});

describe('ByteQueue', () => {
  it('peeks any range and takes any prefix, whatever the pieces', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), sizes, fc.nat(), fc.nat(), (bytes, pieceSizes, a, b) => {
        const data = Buffer.from(bytes);
        const queue = new ByteQueue();
        for (const piece of cut(data, pieceSizes)) queue.push(piece);
        expect(queue.length).toBe(data.length);
        const offset = data.length === 0 ? 0 : a % (data.length + 1);
        const size = (data.length - offset === 0 ? 0 : b % (data.length - offset + 1)) as number;
        expect(queue.peek(offset, size)).toEqual(data.subarray(offset, offset + size));
        const taken = queue.take(offset);
        expect(taken).toEqual(data.subarray(0, offset));
        expect(queue.length).toBe(data.length - offset);
        expect(queue.take(queue.length)).toEqual(data.subarray(offset));
        expect(queue.length).toBe(0);
      }),
    );
  });

  it('discards a prefix across pieces', () => {
    const queue = new ByteQueue();
    queue.push(Buffer.from('abc'));
    queue.push(Buffer.alloc(0));
    queue.push(Buffer.from('defg'));
    queue.discard(4);
    expect(queue.length).toBe(3);
    expect(queue.take(3).toString()).toBe('efg');
  });

  it('refuses ranges beyond what is queued', () => {
    const queue = new ByteQueue();
    queue.push(Buffer.from('abc'));
    expect(() => queue.peek(2, 2)).toThrow(RangeError);
    expect(() => queue.take(4)).toThrow(RangeError);
    expect(() => queue.discard(4)).toThrow(RangeError);
    expect(() => queue.peek(-1, 1)).toThrow(RangeError);
  });
});

describe('FixedSizeSplitter', () => {
  it('yields full units then one short unit, whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        sizes,
        fc.integer({ min: 1, max: 40 }),
        (bytes, pieceSizes, unit) => {
          const data = Buffer.from(bytes);
          const splitter = new FixedSizeSplitter(unit);
          const units = cut(data, pieceSizes).flatMap((piece) => splitter.write(piece));
          units.push(...splitter.end());
          expect(Buffer.concat(units)).toEqual(data);
          units.forEach((piece, index) => {
            if (index < units.length - 1) expect(piece.length).toBe(unit);
            else expect(piece.length).toBeGreaterThan(0);
            expect(piece.length).toBeLessThanOrEqual(unit);
          });
          expect(units.length).toBe(Math.ceil(data.length / unit));
        },
      ),
    );
  });

  it('yields one empty unit for an empty input only when asked', () => {
    expect(new FixedSizeSplitter(4).end()).toEqual([]);
    expect(new FixedSizeSplitter(4, { emptyUnit: true }).end()).toEqual([Buffer.alloc(0)]);
    const splitter = new FixedSizeSplitter(4, { emptyUnit: true });
    expect(splitter.write(Buffer.from('abcd'))).toEqual([Buffer.from('abcd')]);
    expect(splitter.end()).toEqual([]);
  });

  it('rejects a unit size that is not a positive integer', () => {
    expect(() => new FixedSizeSplitter(0)).toThrow(RangeError);
    expect(() => new FixedSizeSplitter(1.5)).toThrow(RangeError);
  });
});

describe('chunksOf and wholeChunks', () => {
  it('cut any input into CHUNK_SIZE chunks, the last one shorter, and none for empty input', async () => {
    for (const length of [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 7]) {
      const data = makeData(length, 'random', length + 1);
      const expected = Array.from({ length: Math.ceil(length / CHUNK_SIZE) }, (_, index) =>
        Math.min(CHUNK_SIZE, length - index * CHUNK_SIZE),
      );
      const direct = [...chunksOf(data)];
      expect(direct.map((chunk) => chunk.length)).toEqual(expected);
      expect(Buffer.concat(direct).equals(data)).toBe(true);
      for (const sizes of [[1000, 7, 300_000], [CHUNK_SIZE], [3 * CHUNK_SIZE]]) {
        const recut: Buffer[] = [];
        for await (const chunk of wholeChunks(cut(data, sizes))) recut.push(chunk);
        expect(recut.map((chunk) => chunk.length)).toEqual(expected);
        expect(Buffer.concat(recut).equals(data)).toBe(true);
      }
    }
  });
});
