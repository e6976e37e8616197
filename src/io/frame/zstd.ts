// Finds zstd frame boundaries (RFC 8878) in a byte stream by reading headers only.
import type { ByteQueue } from '../chunker.js';
import { fail } from '../../common/errors.js';
import { formatMagic, type FrameScanner } from './splitter.js';

export const ZSTD_MAGIC = 0xfd2fb528;

/** Block_Maximum_Size: no block (compressed, raw, or regenerated RLE) exceeds 128 KiB. */
const BLOCK_MAX_SIZE = 128 << 10;
const DICTIONARY_ID_SIZES = [0, 1, 2, 4] as const;
const CONTENT_SIZE_SIZES = [0, 2, 4, 8] as const;
const BLOCK_TYPE_RLE = 1;
const BLOCK_TYPE_RESERVED = 3;

/**
 * Layout: magic (4), frame header descriptor (1), [window descriptor (1)], [dictionary id (0-4)],
 * [frame content size (0-8)]; blocks with a 3-byte little-endian header (bit 0: last block, bits 1-2: type raw /
 * RLE / compressed / reserved, bits 3-23: size; an RLE block carries 1 byte); [content checksum (4)].
 */
export class ZstdFrameScanner implements FrameScanner {
  readonly format = 'zst';
  /** Offset in the frame of the next block header, once the frame header has been read. */
  #pos = 0;
  #headerRead = false;
  #end: number | undefined;
  #checksum = false;

  scan(queue: ByteQueue, streamOffset: number): number | undefined {
    if (!this.#headerRead && !this.#readHeader(queue, streamOffset)) return undefined;
    while (this.#end === undefined) {
      if (queue.length < this.#pos + 3) return undefined;
      const bytes = queue.peek(this.#pos, 3);
      const header = (bytes[0] as number) | ((bytes[1] as number) << 8) | ((bytes[2] as number) << 16);
      const last = (header & 1) === 1;
      const type = (header >> 1) & 0x03;
      const size = header >>> 3;
      if (type === BLOCK_TYPE_RESERVED || size > BLOCK_MAX_SIZE) {
        fail('format', `invalid zst data: bad block header at offset ${streamOffset + this.#pos}`);
      }
      this.#pos += 3 + (type === BLOCK_TYPE_RLE ? 1 : size);
      if (last) this.#end = this.#pos + (this.#checksum ? 4 : 0);
    }
    const length = this.#end;
    this.#reset();
    return length;
  }

  /** Reads the frame header; false when more bytes are needed. */
  #readHeader(queue: ByteQueue, streamOffset: number): boolean {
    if (queue.length < 4) return false;
    const magic = queue.peek(0, 4).readUInt32LE(0);
    if (magic !== ZSTD_MAGIC) {
      fail('format', `invalid zst data: bad magic number ${formatMagic(magic)} at offset ${streamOffset}`);
    }
    if (queue.length < 5) return false;
    const descriptor = queue.peek(4, 1)[0] as number;
    if ((descriptor & 0x08) !== 0) {
      fail('format', `invalid zst data: reserved bit set in the frame header at offset ${streamOffset + 4}`);
    }
    const contentSizeFlag = descriptor >> 6;
    const singleSegment = (descriptor & 0x20) !== 0;
    this.#checksum = (descriptor & 0x04) !== 0;
    const windowDescriptor = singleSegment ? 0 : 1;
    const dictionaryId = DICTIONARY_ID_SIZES[descriptor & 0x03] as number;
    const contentSize =
      contentSizeFlag === 0 ? (singleSegment ? 1 : 0) : (CONTENT_SIZE_SIZES[contentSizeFlag] as number);
    this.#pos = 4 + 1 + windowDescriptor + dictionaryId + contentSize;
    this.#headerRead = true;
    return true;
  }

  #reset(): void {
    this.#pos = 0;
    this.#headerRead = false;
    this.#end = undefined;
  }
}
