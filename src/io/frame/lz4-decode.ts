// Decodes one lz4 frame block by block with lz4-napi's block decoder, which (unlike its frame decoder) frees memory.
//
// Why not lz4-napi's decompressFrame: measured with lz4-napi 2.10, decompressFrameSync never frees its output (RSS
// grows by every byte decompressed) and decompressFrame keeps about 250 MiB; uncompressSync, the block decoder,
// returns to its starting RSS. A restore decompresses the whole backup, so the frame decoder is not usable.
import { fail, messageOf } from '../../common/errors.js';
import { LZ4_MAGIC, readLz4Descriptor } from './lz4.js';

/** The part of lz4-napi this decoder uses: its block decoder, on the calling thread or on libuv's pool. */
export interface Lz4BlockDecoder {
  uncompressSync(data: Uint8Array, dict?: Uint8Array): Buffer;
  uncompress(data: Uint8Array, dict?: Uint8Array): Promise<Buffer>;
}

/** Linked blocks may refer back this far into earlier output (the format's window). */
const WINDOW = 64 << 10;

/**
 * The uncompressed bytes of `frame`, one whole lz4 frame (as Lz4FrameScanner cuts them). Checksums in the frame
 * are not verified: every caller checks the SHA-256 of the whole file. Damaged data fails with a format error.
 *
 * `onPool` decodes on libuv's pool, so the calling thread can hash meanwhile. Measured with lz4-napi 2.10, the
 * pool's output is freed but RSS settles near 500 MiB after gigabytes (the thread-side decoder stays flat): fine
 * for one WAL segment, not for a whole restore.
 *
 * The block decoder wants the output size in the 4 bytes before the block, where the frame has the block's size
 * word: that word is overwritten for the call and put back after, so the frame is never copied.
 *
 * `length`: the frame's original length when the caller knows it (a block-stored file's part records its frame
 * size). The decoder allocates the size it is given for each block: the frame's block maximum (1 MiB) for a 64 KiB
 * frame cost an allocation 16 times the output, per frame (about half the decode time of such a frame). A block
 * that decodes to more than the length given fails as damaged data, as any other.
 */
export async function decodeLz4Frame(
  lz4: Lz4BlockDecoder,
  frame: Buffer,
  options: { onPool: boolean; length?: number | undefined },
): Promise<Buffer> {
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
    const wordAt = pos;
    const word = frame.readUInt32LE(wordAt);
    pos += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (size > blockMax || pos + size + blockChecksum > frame.length) invalid('bad block size');
    pos += size + blockChecksum;
    let block: Buffer;
    if ((word & 0x80000000) !== 0) {
      block = frame.subarray(wordAt + 4, wordAt + 4 + size);
    } else {
      // The decoder returns the real size; the bound it checks against is the frame's block maximum, or what is
      // left of the length the caller gave.
      const left = options.length === undefined ? blockMax : Math.max(0, options.length - total);
      frame.writeUInt32LE(Math.min(blockMax, left), wordAt);
      const input = frame.subarray(wordAt, wordAt + 4 + size);
      const dict = independent ? undefined : history;
      try {
        block = options.onPool ? await lz4.uncompress(input, dict) : lz4.uncompressSync(input, dict);
      } catch (error) {
        invalid(messageOf(error));
      } finally {
        frame.writeUInt32LE(word, wordAt);
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
  // pgstash writes one block per frame: no copy then.
  return blocks.length === 1 ? (blocks[0] as Buffer) : Buffer.concat(blocks, total);
}

function invalid(reason: string): never {
  return fail('format', `invalid lz4 data: ${reason}`);
}
