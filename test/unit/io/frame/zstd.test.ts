// Tests for the zstd frame scanner: frames from zstd(1) with header options, @mongodb-js/zstd, and hand-made ones.
import { compress, decompress } from '@mongodb-js/zstd';
import { describe, expect, it } from 'vitest';
import { ZstdFrameScanner } from '../../../../src/io/frame/zstd.js';
import { runTool, skippableFrame } from '../helpers.js';
import { compressFile, expectFramesFoundInAnyChunking, formatError, sampleInputs, split } from './frames.js';

/** zstd(1) options: checksum or not, content size or not, levels, long mode. */
const CLI_OPTIONS = [
  [],
  ['--no-check'],
  ['--no-content-size', '-19'],
  ['-1', '--long=20'],
  ['--ultra', '-22'],
];

/**
 * A frame made by hand: 4-byte dictionary id absent, 2-byte content size, a window descriptor, then a raw block
 * and a last RLE block. zstd(1) and the library must both accept it, so it also checks our reading of the format.
 */
function handMadeFrame(options: { withDictionaryId?: boolean } = {}): { frame: Buffer; content: Buffer } {
  const raw = Buffer.from('raw block content ');
  const content = Buffer.concat([raw, Buffer.alloc(300, 'z')]);
  const dictionaryFlag = options.withDictionaryId === true ? 0x03 : 0x00;
  const descriptor = (0x01 << 6) | dictionaryFlag; // 2-byte content size, window descriptor present
  const contentSize = Buffer.alloc(2);
  contentSize.writeUInt16LE(content.length - 256, 0); // the 2-byte field stores size - 256
  const blockHeader = (size: number, type: number, last: boolean): Buffer => {
    const value = (size << 3) | (type << 1) | (last ? 1 : 0);
    return Buffer.from([value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff]);
  };
  const frame = Buffer.concat([
    Buffer.from([0x28, 0xb5, 0x2f, 0xfd, descriptor, 0x00]), // window descriptor 0: 1 KiB window
    options.withDictionaryId === true ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0),
    contentSize,
    blockHeader(raw.length, 0, false),
    raw,
    blockHeader(300, 1, true),
    Buffer.from('z'),
  ]);
  return { frame, content };
}

async function allFrames(): Promise<{ frame: Buffer; skippable: boolean }[]> {
  const frames: { frame: Buffer; skippable: boolean }[] = [];
  for (const input of sampleInputs) {
    for (const options of CLI_OPTIONS)
      frames.push({ frame: compressFile('zstd', ['-q', ...options], input), skippable: false });
    frames.push({ frame: runTool('zstd', ['-c'], input), skippable: false }); // from stdin: no content size
    frames.push({ frame: await compress(input, 3), skippable: false });
  }
  frames.push({ frame: skippableFrame(Buffer.from('metadata'), 0x7), skippable: true });
  frames.push({ frame: skippableFrame(Buffer.alloc(0)), skippable: true });
  frames.push({ frame: handMadeFrame().frame, skippable: false });
  frames.push({ frame: handMadeFrame({ withDictionaryId: true }).frame, skippable: false });
  return frames;
}

describe('ZstdFrameScanner', () => {
  it('finds every frame, whatever the chunking', async () => {
    await expectFramesFoundInAnyChunking(() => new ZstdFrameScanner(), await allFrames());
  });

  it('reads a hand-made frame as zstd(1) and the library do (raw and RLE blocks, content size)', async () => {
    const { frame, content } = handMadeFrame();
    expect(runTool('zstd', ['-dc'], frame)).toEqual(content);
    expect(await decompress(frame)).toEqual(content);
    expect(split(new ZstdFrameScanner(), Buffer.concat([frame, frame]), [5])).toEqual([frame, frame]);
  });

  it('takes a multi-frame file made with cat as its frames', () => {
    const a = runTool('zstd', ['-c'], Buffer.from('first'));
    const b = runTool('zstd', ['-c'], Buffer.from('second'));
    expect(split(new ZstdFrameScanner(), Buffer.concat([a, b]), [2])).toEqual([a, b]);
  });

  it('rejects a bad magic number, a reserved header bit, and a bad block', () => {
    expect(formatError(() => split(new ZstdFrameScanner(), Buffer.from('garbage data'), [100]))).toBe(
      'invalid zst data: bad magic number 0x62726167 at offset 0',
    );
    const frame = runTool('zstd', ['-c'], Buffer.from('text'));
    const reserved = Buffer.from(frame);
    reserved[4] = (reserved[4] as number) | 0x08;
    expect(formatError(() => split(new ZstdFrameScanner(), reserved, [100]))).toBe(
      'invalid zst data: reserved bit set in the frame header at offset 4',
    );
    const { frame: made } = handMadeFrame();
    const reservedType = Buffer.from(made);
    reservedType[8] = (reservedType[8] as number) | 0x06; // first block header: type 3 (reserved)
    expect(formatError(() => split(new ZstdFrameScanner(), reservedType, [100]))).toBe(
      'invalid zst data: bad block header at offset 8',
    );
    const tooLarge = Buffer.from(made);
    tooLarge[10] = 0xff; // first block size > 128 KiB
    expect(formatError(() => split(new ZstdFrameScanner(), tooLarge, [100]))).toMatch(/bad block header/);
    expect(
      formatError(() => split(new ZstdFrameScanner(), Buffer.concat([frame, Buffer.from('junk')]), [3])),
    ).toBe(`invalid zst data: bad magic number 0x6B6E756A at offset ${frame.length}`);
  });

  it('rejects a truncated final frame, cut anywhere', async () => {
    const first = await compress(Buffer.from('complete'), 3);
    const frame = runTool('zstd', ['-c'], Buffer.from('a somewhat longer text, a somewhat longer text'));
    for (let cut = 1; cut < frame.length; cut++) {
      const stream = Buffer.concat([first, frame.subarray(0, cut)]);
      expect(formatError(() => split(new ZstdFrameScanner(), stream, [7]))).toBe(
        `invalid zst data: truncated frame at offset ${first.length} (the data ends inside it)`,
      );
    }
  });

  it('rejects an empty input but accepts one made of skippable frames only', () => {
    expect(formatError(() => split(new ZstdFrameScanner(), Buffer.alloc(0), [1]))).toBe(
      'invalid zst data: no frame found (the input is empty)',
    );
    expect(split(new ZstdFrameScanner(), skippableFrame(Buffer.alloc(100_000, 1)), [1000])).toEqual([]);
  });
});
