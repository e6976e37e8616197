// Tests for the lz4 frame scanner: frames from lz4(1) with every header option, lz4-napi, and hand-made ones.
import { compressFrame } from 'lz4-napi';
import { describe, expect, it } from 'vitest';
import { Lz4FrameScanner } from '../../../../src/io/frame/lz4.js';
import { runTool, skippableFrame } from '../helpers.js';
import { compressFile, expectFramesFoundInAnyChunking, formatError, sampleInputs, split } from './frames.js';

/** lz4(1) options covering block sizes, block checksums, no content checksum, linked blocks, content size. */
const CLI_OPTIONS = [
  [],
  ['-B4', '-BX'],
  ['-B5', '--no-frame-crc'],
  ['-B6', '-BD'],
  ['-B7', '--content-size'],
  ['-9'],
];

async function allFrames(): Promise<{ frame: Buffer; skippable: boolean }[]> {
  const frames: { frame: Buffer; skippable: boolean }[] = [];
  for (const input of sampleInputs) {
    for (const options of CLI_OPTIONS)
      frames.push({ frame: compressFile('lz4', options, input), skippable: false });
    frames.push({ frame: await compressFrame(input), skippable: false });
    frames.push({
      frame: await compressFrame(input, { contentChecksum: true, blockChecksums: true }),
      skippable: false,
    });
  }
  frames.push({ frame: skippableFrame(Buffer.from('metadata'), 0xf), skippable: true });
  frames.push({ frame: skippableFrame(Buffer.alloc(0)), skippable: true });
  frames.push({ frame: handMadeFrame(), skippable: false });
  return frames;
}

/**
 * An lz4 frame with content size and dictionary id fields and one stored (uncompressed) block with a block
 * checksum, then a content checksum: every optional field at once. Only its layout matters here.
 */
function handMadeFrame(): Buffer {
  const flg = 0x40 | 0x10 | 0x08 | 0x04 | 0x01; // version 01, block checksum, content size, content checksum, dict id
  const bd = 0x40; // 64 KiB blocks
  const block = Buffer.alloc(4);
  block.writeUInt32LE((0x80000000 | 5) >>> 0, 0);
  return Buffer.concat([
    Buffer.from([0x04, 0x22, 0x4d, 0x18, flg, bd]),
    Buffer.alloc(8 + 4 + 1, 0x11), // content size, dictionary id, header checksum
    block,
    Buffer.from('hello'),
    Buffer.alloc(4, 0x22), // block checksum
    Buffer.alloc(4), // end mark
    Buffer.alloc(4, 0x33), // content checksum
  ]);
}

describe('Lz4FrameScanner', () => {
  it('finds every frame, whatever the chunking', async () => {
    await expectFramesFoundInAnyChunking(() => new Lz4FrameScanner(), await allFrames());
  });

  it('takes a multi-frame file made with cat as its frames', () => {
    const a = runTool('lz4', ['-c'], Buffer.from('first'));
    const b = runTool('lz4', ['-c'], Buffer.from('second'));
    expect(split(new Lz4FrameScanner(), Buffer.concat([a, b]), [3])).toEqual([a, b]);
  });

  it('rejects a bad magic number, the legacy format, and a bad descriptor', () => {
    expect(formatError(() => split(new Lz4FrameScanner(), Buffer.from('garbage data'), [100]))).toBe(
      'invalid lz4 data: bad magic number 0x62726167 at offset 0',
    );
    const legacy = runTool('lz4', ['-l', '-c'], Buffer.from('legacy'));
    expect(formatError(() => split(new Lz4FrameScanner(), legacy, [100]))).toMatch(/legacy lz4 format/);
    const frame = runTool('lz4', ['-c'], Buffer.from('text'));
    const badVersion = Buffer.from(frame);
    badVersion[4] = (badVersion[4] as number) ^ 0xc0;
    expect(formatError(() => split(new Lz4FrameScanner(), badVersion, [100]))).toBe(
      'invalid lz4 data: bad frame descriptor at offset 4',
    );
    const badBlockSize = Buffer.from(frame);
    badBlockSize[5] = 0x30; // block size code 3 is not defined
    expect(formatError(() => split(new Lz4FrameScanner(), badBlockSize, [100]))).toMatch(
      /bad frame descriptor/,
    );
    // Garbage after a valid frame is reported at its offset.
    expect(
      formatError(() => split(new Lz4FrameScanner(), Buffer.concat([frame, Buffer.from('junk')]), [5])),
    ).toBe(`invalid lz4 data: bad magic number 0x6B6E756A at offset ${frame.length}`);
  });

  it('rejects a block larger than the frame allows', () => {
    const frame = handMadeFrame();
    frame.writeUInt32LE(0x10000 + 1, 19); // 64 KiB + 1 in a 64 KiB frame
    expect(formatError(() => split(new Lz4FrameScanner(), frame, [100]))).toMatch(
      /block of 65537 bytes exceeds/,
    );
  });

  it('rejects a truncated final frame, cut anywhere', async () => {
    const first = await compressFrame(Buffer.from('complete'));
    const frame = runTool(
      'lz4',
      ['-c', '-BX'],
      Buffer.from('a somewhat longer text, a somewhat longer text'),
    );
    for (let cut = 1; cut < frame.length; cut++) {
      const stream = Buffer.concat([first, frame.subarray(0, cut)]);
      expect(formatError(() => split(new Lz4FrameScanner(), stream, [7]))).toBe(
        `invalid lz4 data: truncated frame at offset ${first.length} (the data ends inside it)`,
      );
    }
    const skippable = skippableFrame(Buffer.from('payload'));
    expect(formatError(() => split(new Lz4FrameScanner(), skippable.subarray(0, 10), [3]))).toMatch(
      /truncated frame at offset 0/,
    );
  });

  it('rejects an empty input', () => {
    expect(formatError(() => split(new Lz4FrameScanner(), Buffer.alloc(0), [1]))).toBe(
      'invalid lz4 data: no frame found (the input is empty)',
    );
  });
});
