// Finds lz4 frame boundaries (LZ4 frame format 1.6.x) in a byte stream by reading headers only.
import type { ByteQueue } from '../chunker.js';
import { fail } from '../../common/errors.js';
import { formatMagic, type FrameScanner } from './splitter.js';

export const LZ4_MAGIC = 0x184d2204;
const LZ4_LEGACY_MAGIC = 0x184c2102;

/** Block maximum sizes by the BD byte's 3-bit code (4 to 7); other codes are invalid. */
const BLOCK_MAX_SIZES: Readonly<Record<number, number>> = {
  4: 64 << 10,
  5: 256 << 10,
  6: 1 << 20,
  7: 4 << 20,
};

/** What a frame descriptor (the FLG and BD bytes after the magic) says. */
export interface Lz4Descriptor {
  readonly blockMax: number;
  readonly independentBlocks: boolean;
  readonly blockChecksum: boolean;
  readonly contentChecksum: boolean;
  readonly contentSize: boolean;
  /** Bytes from the magic to the end of the header, header checksum included. */
  readonly headerLength: number;
}

/**
 * Reads the FLG and BD bytes; a descriptor this format version does not allow (version, reserved bits, block
 * size code) fails with a format error naming `offset`, the descriptor's offset in the stream.
 */
export function readLz4Descriptor(flg: number, bd: number, offset: number): Lz4Descriptor {
  const blockMax = BLOCK_MAX_SIZES[(bd >> 4) & 0x07];
  if (flg >> 6 !== 0b01 || (flg & 0x02) !== 0 || (bd & 0x8f) !== 0 || blockMax === undefined) {
    fail('format', `invalid lz4 data: bad frame descriptor at offset ${offset}`);
  }
  const contentSize = (flg & 0x08) !== 0;
  const dictionaryId = (flg & 0x01) !== 0;
  return {
    blockMax,
    independentBlocks: (flg & 0x20) !== 0,
    blockChecksum: (flg & 0x10) !== 0,
    contentChecksum: (flg & 0x04) !== 0,
    contentSize,
    headerLength: 4 + 2 + (contentSize ? 8 : 0) + (dictionaryId ? 4 : 0) + 1,
  };
}

/**
 * Layout: magic (4), FLG (1), BD (1), [content size (8)], [dictionary id (4)], header checksum (1); then blocks,
 * each a 4-byte little-endian size (high bit: stored uncompressed) + data + [block checksum (4)]; an end mark
 * (4 zero bytes); [content checksum (4)]. Checksums are verified by the decompressor, not here.
 */
export class Lz4FrameScanner implements FrameScanner {
  readonly format = 'lz4';
  /** Offset in the frame of the next block header, once the frame header has been read. */
  #pos = 0;
  #headerRead = false;
  #end: number | undefined;
  #blockMax = 0;
  #blockChecksum = false;
  #contentChecksum = false;

  scan(queue: ByteQueue, streamOffset: number): number | undefined {
    if (!this.#headerRead && !this.#readHeader(queue, streamOffset)) return undefined;
    while (this.#end === undefined) {
      if (queue.length < this.#pos + 4) return undefined;
      const word = queue.peek(this.#pos, 4).readUInt32LE(0);
      if (word === 0) {
        this.#end = this.#pos + 4 + (this.#contentChecksum ? 4 : 0);
        break;
      }
      const size = word & 0x7fffffff;
      if (size > this.#blockMax) {
        fail(
          'format',
          `invalid lz4 data: block of ${size} bytes exceeds the frame's maximum ${this.#blockMax} at offset ${streamOffset + this.#pos}`,
        );
      }
      this.#pos += 4 + size + (this.#blockChecksum ? 4 : 0);
    }
    const length = this.#end;
    this.#reset();
    return length;
  }

  /** Reads the frame header; false when more bytes are needed. */
  #readHeader(queue: ByteQueue, streamOffset: number): boolean {
    if (queue.length < 4) return false;
    const magic = queue.peek(0, 4).readUInt32LE(0);
    if (magic === LZ4_LEGACY_MAGIC) {
      fail(
        'format',
        `invalid lz4 data: legacy lz4 format (magic ${formatMagic(magic)}) at offset ${streamOffset}`,
      );
    }
    if (magic !== LZ4_MAGIC) {
      fail('format', `invalid lz4 data: bad magic number ${formatMagic(magic)} at offset ${streamOffset}`);
    }
    if (queue.length < 6) return false;
    const bytes = queue.peek(4, 2);
    const descriptor = readLz4Descriptor(bytes[0] as number, bytes[1] as number, streamOffset + 4);
    this.#blockMax = descriptor.blockMax;
    this.#blockChecksum = descriptor.blockChecksum;
    this.#contentChecksum = descriptor.contentChecksum;
    this.#pos = descriptor.headerLength;
    this.#headerRead = true;
    return true;
  }

  #reset(): void {
    this.#pos = 0;
    this.#headerRead = false;
    this.#end = undefined;
  }
}
