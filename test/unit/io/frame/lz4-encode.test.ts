// Tests for encodeLz4Frame: the lz4 tool's header for the same flags, raw storage of incompressible data, round trips.
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import lz4 from 'lz4-napi';
import { describe, expect, it } from 'vitest';
import { decodeLz4Frame } from '../../../../src/io/frame/lz4-decode.js';
import { encodeLz4Frame, LZ4_FRAME_INPUT_MAX } from '../../../../src/io/frame/lz4-encode.js';
import { makeData } from '../helpers.js';

describe('encodeLz4Frame', () => {
  it('writes the header the lz4 tool writes for 1 MiB independent blocks without checksums', async () => {
    const data = makeData(3 * 1024 * 1024, 'text', 5);
    const tool = spawnSync('lz4', ['-1', '-B6', '--no-frame-crc', '-c'], {
      input: data,
      maxBuffer: 64 << 20,
    });
    expect(tool.status).toBe(0);
    const ours = await encodeLz4Frame(lz4, data.subarray(0, LZ4_FRAME_INPUT_MAX));
    expect(ours.subarray(0, 7).equals(tool.stdout.subarray(0, 7))).toBe(true);
  });

  it('round-trips through the decoder and the lz4 tool, compressible or not', async () => {
    for (const data of [
      Buffer.alloc(0),
      Buffer.from('x'),
      makeData(LZ4_FRAME_INPUT_MAX, 'mixed', 9),
      randomBytes(LZ4_FRAME_INPUT_MAX),
      Buffer.alloc(LZ4_FRAME_INPUT_MAX),
    ]) {
      const frame = await encodeLz4Frame(lz4, data);
      expect((await decodeLz4Frame(lz4, frame, { onPool: false })).equals(data)).toBe(true);
      const tool = spawnSync('lz4', ['-d', '-c'], { input: frame, maxBuffer: 64 << 20 });
      expect(tool.status).toBe(0);
      expect(tool.stdout.equals(data)).toBe(true);
    }
  });

  it('stores incompressible data as is (the size word says so), never larger than header + data + end mark', async () => {
    const data = randomBytes(64 * 1024);
    const frame = await encodeLz4Frame(lz4, data);
    expect(frame.length).toBe(7 + 4 + data.length + 4);
    expect(frame.readUInt32LE(7) >>> 31).toBe(1);
  });

  it('refuses more than one block of input', async () => {
    await expect(encodeLz4Frame(lz4, Buffer.alloc(LZ4_FRAME_INPUT_MAX + 1))).rejects.toThrow(/too large/);
  });
});
