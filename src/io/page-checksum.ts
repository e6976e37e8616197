// Verifies PostgreSQL data page checksums (pg_checksum_page and PageIsVerified): a stage of the chunk loop.
import { endianness } from 'node:os';
import type { ChunkStage } from './stage.js';

/** Partial checksums computed in parallel: a fixed part of PostgreSQL's algorithm (checksum_impl.h). */
const N_SUMS = 32;
const FNV_PRIME = 16777619;
const BASE_OFFSETS = Int32Array.from(
  Uint32Array.of(
    0x5b1f36e9,
    0xb8525960,
    0x02ab50aa,
    0x1de66d2a,
    0x79ff467a,
    0x9bb9f8a3,
    0x217e7cd2,
    0x83e13d2c,
    0xf8d4474f,
    0xe39eb970,
    0x42c6ae16,
    0x993216fa,
    0x7b093b5d,
    0x98daff3c,
    0xf718902a,
    0x0b1c9cdb,
    0xe58f764b,
    0x187636bc,
    0x5d7b3bb1,
    0xe73de7de,
    0x92bec979,
    0xcca6c0b2,
    0x304a0979,
    0x85aa43d4,
    0x783125bb,
    0x6ca8eaa2,
    0xe407eac6,
    0x4b5cfc3e,
    0x9fbf8c76,
    0x15ca20be,
    0xf2ca9fd3,
    0x959bd756,
  ),
);

/** Page header fields (bufpage.h), in the byte order of the machine that wrote them: this one. */
const LITTLE_ENDIAN = endianness() === 'LE';
const PD_CHECKSUM = 8;
const PD_FLAGS = 10;
const PD_LOWER = 12;
const PD_UPPER = 14;
const PD_SPECIAL = 16;
const PD_VALID_FLAG_BITS = 0x0007;
const MAXIMUM_ALIGNOF = 8;
/**
 * pd_checksum (byte PD_CHECKSUM) is the low half (little-endian) or high half (big-endian) of the page's third
 * 32-bit word; the mask keeps the other half.
 */
const CHECKSUM_WORD_MASK = LITTLE_ENDIAN ? 0xffff0000 : 0x0000ffff;

/** One step of PostgreSQL's CHECKSUM_COMP: xor in a word, multiply by the FNV prime, fold the high bits down. */
function mix(sum: number, value: number): number {
  const mixed = sum ^ value;
  return Math.imul(mixed, FNV_PRIME) ^ (mixed >>> 17);
}

/**
 * pg_checksum_page: FNV-1a-like mixing over the page as 32 columns of 32-bit words, with pd_checksum taken as
 * zero, xor-folded, mixed with the block number, reduced to 1..65535. `words` is the page in native byte order.
 *
 * A backup runs this over every page, so it is written for speed: 8 columns at a time in local variables, which
 * V8 keeps in registers (measured 2 to 2.5 times as fast as 32 sums in a typed array), in 4 passes over the page
 * (8 KiB stays in the L1 cache). Int32 arithmetic throughout: xor, imul and >>> keep the low 32 bits exact.
 */
export function pageChecksum(words: Uint32Array, blockNo: number): number {
  const end = words.length;
  let result = 0;
  for (let group = 0; group < N_SUMS; group += 8) {
    let s0 = BASE_OFFSETS[group] as number;
    let s1 = BASE_OFFSETS[group + 1] as number;
    let s2 = BASE_OFFSETS[group + 2] as number;
    let s3 = BASE_OFFSETS[group + 3] as number;
    let s4 = BASE_OFFSETS[group + 4] as number;
    let s5 = BASE_OFFSETS[group + 5] as number;
    let s6 = BASE_OFFSETS[group + 6] as number;
    let s7 = BASE_OFFSETS[group + 7] as number;
    let row = group;
    if (group === 0) {
      // Row 0 holds pd_checksum (in column 2, see CHECKSUM_WORD_MASK), which counts as zero.
      s0 = mix(s0, words[0] as number);
      s1 = mix(s1, words[1] as number);
      s2 = mix(s2, (words[2] as number) & CHECKSUM_WORD_MASK);
      s3 = mix(s3, words[3] as number);
      s4 = mix(s4, words[4] as number);
      s5 = mix(s5, words[5] as number);
      s6 = mix(s6, words[6] as number);
      s7 = mix(s7, words[7] as number);
      row = N_SUMS;
    }
    for (; row < end; row += N_SUMS) {
      s0 = mix(s0, words[row] as number);
      s1 = mix(s1, words[row + 1] as number);
      s2 = mix(s2, words[row + 2] as number);
      s3 = mix(s3, words[row + 3] as number);
      s4 = mix(s4, words[row + 4] as number);
      s5 = mix(s5, words[row + 5] as number);
      s6 = mix(s6, words[row + 6] as number);
      s7 = mix(s7, words[row + 7] as number);
    }
    // Two more rounds of zeros, then xor-fold.
    result ^= mix(mix(s0, 0), 0) ^ mix(mix(s1, 0), 0) ^ mix(mix(s2, 0), 0) ^ mix(mix(s3, 0), 0);
    result ^= mix(mix(s4, 0), 0) ^ mix(mix(s5, 0), 0) ^ mix(mix(s6, 0), 0) ^ mix(mix(s7, 0), 0);
  }
  return (((result ^ blockNo) >>> 0) % 65535) + 1;
}

export interface PageChecksumOptions {
  /** Segment number of the relation file (the .N suffix; 0 for the first 1 GiB). */
  readonly segmentNo: number;
  /** BLCKSZ (default 8192). */
  readonly blockSize?: number;
  /** RELSEG_SIZE in blocks (default 131072, 1 GiB of 8 KiB pages). */
  readonly segmentBlocks?: number;
  /**
   * Pages whose LSN is at or beyond this one are not reported: during an online backup they may be torn by a
   * concurrent write, and WAL replay restores them. Unset: every page is checked.
   */
  readonly lsnLimit?: bigint;
}

/**
 * Verifies each full page as PostgreSQL's PageIsVerified does with checksums on: a new page (pd_upper 0) must be
 * all zeros; any other page needs a sane header and a matching checksum. A partial trailing page (the relation
 * is being extended) is skipped. Bytes arrive in chunks of any size (`update`): a backup runs it as a stage of
 * Repository.putChunks.
 */
export class PageVerifier implements ChunkStage {
  readonly #blockSize: number;
  readonly #firstBlock: number;
  readonly #lsnLimit: bigint | undefined;
  /** The page being assembled when pages straddle chunks or are not 4-byte aligned; always aligned itself. */
  readonly #page: Buffer;
  #pageUsed = 0;
  #pageIndex = 0;
  readonly #invalid: number[] = [];

  constructor(options: PageChecksumOptions) {
    const blockSize = options.blockSize ?? 8192;
    const segmentBlocks = options.segmentBlocks ?? 131072;
    if (!Number.isInteger(blockSize) || blockSize < 1024 || blockSize % (N_SUMS * 4) !== 0) {
      throw new RangeError(`invalid block size ${blockSize}`);
    }
    if (!Number.isInteger(options.segmentNo) || options.segmentNo < 0) {
      throw new RangeError(`invalid segment number ${options.segmentNo}`);
    }
    this.#blockSize = blockSize;
    this.#firstBlock = options.segmentNo * segmentBlocks;
    this.#lsnLimit = options.lsnLimit;
    this.#page = Buffer.allocUnsafeSlow(blockSize);
  }

  /** Page numbers (within this file, from 0) that failed verification. */
  get invalidPages(): number[] {
    return [...this.#invalid];
  }

  /** Full pages examined. */
  get pagesChecked(): number {
    return this.#pageIndex;
  }

  /** Checks the pages completed by `chunk`, the next bytes of the file. */
  update(chunk: Buffer): void {
    const size = this.#blockSize;
    let offset = 0;
    if (this.#pageUsed > 0) {
      const copied = chunk.copy(this.#page, this.#pageUsed, 0, Math.min(chunk.length, size - this.#pageUsed));
      this.#pageUsed += copied;
      offset = copied;
      if (this.#pageUsed === size) {
        this.#check(this.#page);
        this.#pageUsed = 0;
      }
    }
    for (; offset + size <= chunk.length; offset += size) {
      const page = chunk.subarray(offset, offset + size);
      if (page.byteOffset % 4 === 0) {
        this.#check(page);
      } else {
        page.copy(this.#page);
        this.#check(this.#page);
      }
    }
    if (offset < chunk.length) this.#pageUsed = chunk.copy(this.#page, 0, offset);
  }

  /** Verifies one full page (4-byte aligned). */
  #check(page: Buffer): void {
    const index = this.#pageIndex++;
    if (!this.#verified(page, (this.#firstBlock + index) >>> 0) && !this.#beyondLimit(page)) {
      this.#invalid.push(index);
    }
  }

  #verified(page: Buffer, blockNo: number): boolean {
    const view = new DataView(page.buffer, page.byteOffset, page.length);
    const upper = view.getUint16(PD_UPPER, LITTLE_ENDIAN);
    if (upper === 0) return isAllZero(page); // PageIsNew: only an all-zero new page is valid
    const flags = view.getUint16(PD_FLAGS, LITTLE_ENDIAN);
    const lower = view.getUint16(PD_LOWER, LITTLE_ENDIAN);
    const special = view.getUint16(PD_SPECIAL, LITTLE_ENDIAN);
    const headerSane =
      (flags & ~PD_VALID_FLAG_BITS) === 0 &&
      lower <= upper &&
      upper <= special &&
      special <= this.#blockSize &&
      special % MAXIMUM_ALIGNOF === 0;
    if (!headerSane) return false;
    const words = new Uint32Array(page.buffer, page.byteOffset, page.length / 4);
    return pageChecksum(words, blockNo) === view.getUint16(PD_CHECKSUM, LITTLE_ENDIAN);
  }

  #beyondLimit(page: Buffer): boolean {
    if (this.#lsnLimit === undefined) return false;
    const view = new DataView(page.buffer, page.byteOffset, 8);
    const lsn = (BigInt(view.getUint32(0, LITTLE_ENDIAN)) << 32n) | BigInt(view.getUint32(4, LITTLE_ENDIAN)); // xlogid, xrecoff
    return lsn >= this.#lsnLimit;
  }
}

function isAllZero(page: Buffer): boolean {
  for (let index = 0; index < page.length; index++) if (page[index] !== 0) return false;
  return true;
}
