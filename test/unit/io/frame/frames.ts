// Frame fixtures for the frame scanner tests: real frames from the CLI tools and the libraries, and a splitter run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect } from 'vitest';
import { FrameSplitter, type FrameScanner } from '../../../../src/io/frame/splitter.js';
import { errorOf } from '../../../harness/errors.js';
import { makeData, runTool } from '../helpers.js';

/** Runs a CLI compressor on `data` stored in a file (so tools can record the content size), returns its output. */
export function compressFile(command: string, args: readonly string[], data: Buffer): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'pgstash-frame-'));
  try {
    const path = join(dir, 'input');
    writeFileSync(path, data);
    return runTool(command, [...args, '-c', path], Buffer.alloc(0));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `stream` (cut into `sizes`, cycled) through a FrameSplitter; returns the units. */
export function split(scanner: FrameScanner, stream: Buffer, sizes: readonly number[]): Buffer[] {
  const splitter = new FrameSplitter(scanner);
  const units: Buffer[] = [];
  for (let offset = 0, index = 0; offset < stream.length; index++) {
    const size = Math.max(1, sizes[index % sizes.length] ?? 1);
    units.push(...splitter.write(stream.subarray(offset, offset + size)));
    offset += size;
  }
  units.push(...splitter.end());
  return units;
}

/** Asserts that splitting the concatenation of `frames` (skippable ones dropped) gives back the data frames. */
export function expectFramesFound(
  scanner: FrameScanner,
  frames: readonly { frame: Buffer; skippable: boolean }[],
  sizes: readonly number[],
): void {
  const units = split(scanner, Buffer.concat(frames.map(({ frame }) => frame)), sizes);
  const expected = frames.filter(({ skippable }) => !skippable).map(({ frame }) => frame);
  expect(units.length).toBe(expected.length);
  units.forEach((unit, index) => expect(unit.equals(expected[index] as Buffer)).toBe(true));
}

/** Every frame is found whether the stream arrives whole, a byte at a time, or in random subsets and chunkings. */
export async function expectFramesFoundInAnyChunking(
  newScanner: () => FrameScanner,
  frames: readonly { frame: Buffer; skippable: boolean }[],
): Promise<void> {
  expectFramesFound(newScanner(), frames, [1 << 20]);
  expectFramesFound(newScanner(), frames, [1]);
  await fc.assert(
    fc.asyncProperty(
      fc.shuffledSubarray([...frames], { minLength: 1 }),
      fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 5 }),
      async (subset, sizes) => {
        expectFramesFound(newScanner(), subset, sizes);
      },
    ),
    { numRuns: 40 },
  );
}

/** The message of the format error (29) `run` throws; any other outcome fails the test. */
export function formatError(run: () => unknown): string {
  const error = errorOf(run);
  expect(error.kind).toBe('format');
  return error.message;
}

export const sampleInputs = [
  Buffer.alloc(0),
  Buffer.from('x'),
  makeData(300_000, 'mixed', 7),
  makeData(200_000, 'zeros'),
  makeData(150_000, 'random', 3),
];
