// Decodes one lz4 frame block by block with lz4-napi's block decoder, which (unlike its frame decoder) frees memory.
//
// Why not lz4-napi's decompressFrame: measured with lz4-napi 2.10, decompressFrameSync never frees its output (RSS
// grows by every byte decompressed) and decompressFrame keeps about 250 MiB; uncompressSync, the block decoder,
// returns to its starting RSS. A restore decompresses the whole backup, so the frame decoder is not usable.
import { fail, messageOf } from '../../common/errors.js';
import { LZ4_MAGIC, readLz4Descriptor } from './lz4.js';

/** The part of lz4-napi this decoder uses. */
export interface Lz4BlockDecoder {
  uncompressSync(data: Buffer, dict?: Buffer): Buffer;
}

/** Linked blocks may refer back this far into earlier output (the format's window). */
const WINDOW = 64 << 10;

/**
 * The uncompressed bytes of `frame`, one whole lz4 frame (as Lz4FrameScanner cuts them). Checksums in the frame
 * are not verified: every caller checks the SHA-256 of the whole file. Damaged data fails with a format error.
 */
export function decodeLz4Frame(lz4: Lz4BlockDecoder, frame: Buffer): Buffer {
  if (frame.length < 7 || frame.readUInt32LE(0) !== LZ4_MAGIC) invalid('bad frame header');
  const descriptor = readLz4Descriptor(frame[4] as number, frame[5] as number, 4);
  const { blockMax, headerLength } = descriptor;
  if (frame.length < headerLength) invalid('truncated frame');
  const independent = descriptor.independentBlocks;
  const blockChecksum = descriptor.blockChecksum ? 4 : 0;
  const contentSize = descriptor.contentSize ? Number(frame.readBigUInt64LE(6)) : undefined;
  let pos = headerLength;
  const blocks: Buffer[] = [];
  let total = 0;
  /** The last WINDOW bytes of output, for linked blocks. */
  let history: Buffer | undefined;
  for (;;) {
    if (pos + 4 > frame.length) invalid('truncated frame');
    const word = frame.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (size > blockMax || pos + size + blockChecksum > frame.length) invalid('bad block size');
    const data = frame.subarray(pos, pos + size);
    pos += size + blockChecksum;
    let block: Buffer;
    if ((word & 0x80000000) !== 0) {
      block = data;
    } else {
      // The block decoder reads the output size first: give the frame's block maximum (it returns the real size).
      const input = Buffer.allocUnsafe(4 + size);
      input.writeUInt32LE(blockMax, 0);
      data.copy(input, 4);
      try {
        block =
          independent || history === undefined
            ? lz4.uncompressSync(input)
            : lz4.uncompressSync(input, history);
      } catch (error) {
        invalid(messageOf(error));
      }
    }
    blocks.push(block);
    total += block.length;
    if (!independent) {
      history = history === undefined ? block : Buffer.concat([history, block]);
      if (history.length > WINDOW) history = history.subarray(history.length - WINDOW);
    }
  }
  if (contentSize !== undefined && contentSize !== total)
    invalid(`content size ${contentSize}, decoded ${total}`);
  return Buffer.concat(blocks, total);
}

function invalid(reason: string): never {
  return fail('format', `invalid lz4 data: ${reason}`);
}
