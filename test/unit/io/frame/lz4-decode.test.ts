// Tests for decodeLz4Frame: frames the lz4 tool writes with every block option, on both threads, frame untouched.
import { spawnSync } from 'node:child_process';
import lz4 from 'lz4-napi';
import { describe, expect, it } from 'vitest';
import { decodeLz4Frame } from '../../../../src/io/frame/lz4-decode.js';
import { makeData } from '../helpers.js';

/** One frame of `data` from the lz4 tool with `flags`. */
function toolFrame(data: Buffer, flags: readonly string[]): Buffer {
  const tool = spawnSync('lz4', [...flags, '-c'], { input: data, maxBuffer: 64 << 20 });
  expect(tool.status).toBe(0);
  return tool.stdout;
}

describe('decodeLz4Frame', () => {
  const data = makeData(700 * 1024, 'mixed', 3);
  const variants: readonly (readonly string[])[] = [
    ['-B4'], // 64 KiB independent blocks
    ['-B4', '-BD'], // linked blocks: each may refer to the one before
    ['-B4', '-BX'], // block checksums
    ['-B5', '--content-size'], // 256 KiB blocks, content size in the header
    ['-B7', '--no-frame-crc'],
  ];
  for (const flags of variants) {
    for (const onPool of [false, true]) {
      it(`decodes lz4 ${flags.join(' ')} ${onPool ? 'on the pool' : 'on this thread'}, leaving the frame as it was`, async () => {
        const frame = toolFrame(data, flags);
        const before = Buffer.from(frame);
        const decoded = await decodeLz4Frame(lz4, frame, { onPool });
        expect(decoded.equals(data)).toBe(true);
        expect(frame.equals(before)).toBe(true);
      });
    }
  }

  it('fails with a format error on a damaged block, leaving the frame as it was', async () => {
    const frame = toolFrame(data, ['-B4']);
    // Damage the first block's data just after its size word (header: 7 bytes).
    for (let i = 11; i < 40; i++) frame[i] = 0xff;
    const before = Buffer.from(frame);
    for (const onPool of [false, true]) {
      await expect(decodeLz4Frame(lz4, frame, { onPool })).rejects.toThrow(/invalid lz4 data/);
      expect(frame.equals(before)).toBe(true);
    }
  });

  it('decodes into the length the caller gives, block by block, and fails when the data is longer', async () => {
    for (const flags of [['-B4'], ['-B4', '-BD'], ['-B7']]) {
      const frame = toolFrame(data, flags);
      for (const onPool of [false, true]) {
        const decoded = await decodeLz4Frame(lz4, frame, { onPool, length: data.length });
        expect(decoded.equals(data)).toBe(true);
        // A frame whose data is longer than its recorded length is damaged, never cut short.
        await expect(decodeLz4Frame(lz4, frame, { onPool, length: data.length - 1 })).rejects.toThrow(
          /invalid lz4 data/,
        );
      }
    }
  });

  it('refuses a block larger than the frame says blocks are', async () => {
    const frame = toolFrame(data, ['-B4']);
    frame.writeUInt32LE(200 * 1024, 7);
    await expect(decodeLz4Frame(lz4, frame, { onPool: false })).rejects.toThrow(/bad block size/);
  });
});
