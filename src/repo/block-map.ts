// The block map of a block-incremental file: for each block of the file, which part (backup) holds it, where in
// that part's stored blocks, and a short checksum of its content. Compact: typed arrays, never an object per block.
import { hash } from 'node:crypto';
import { PgStashError } from '../common/errors.js';
import { loadNative } from '../io/native.js';

/** Bytes of a block's checksum kept in the map: enough that two different blocks never compare equal by chance. */
export const BLOCK_CHECKSUM_BYTES = 8;

/**
 * How a map's block checksums are computed: `xxh64`, XXH64 (seed 0) of the block, big-endian, for every map a
 * backup starts (a full's, or a block size change); `sha256`, the first 8 bytes of the block's SHA-256, for maps
 * stored before pgstash 0.1.0 switched (magic PGSTBLK1). A map built on a prior's keeps the prior's kind, since it
 * carries the prior's checksums of the blocks it reuses. docs/architecture.md says why xxHash.
 */
export type BlockChecksumKind = 'sha256' | 'xxh64';
/** The kind of a map with no prior to follow. */
export const NEW_MAP_CHECKSUM: BlockChecksumKind = 'xxh64';
/** Smallest and largest block size; every size in between is a power of two, so it divides a 1 MiB chunk. */
export const BLOCK_SIZE_MIN = 8 * 1024;
export const BLOCK_SIZE_MAX = 1024 * 1024;
/** Blocks a file's map has at most (up to BLOCK_SIZE_MAX blocks, 16 GiB): its size stays about 230 KB. */
const BLOCKS_TARGET = 16384;
/** Files smaller than this are copied whole: one chunk's worth, a map would save next to nothing. */
export const BLOCK_FILE_MIN = 1024 * 1024;

/**
 * Original bytes per compressed frame of a part holding only changed blocks (an incr's or diff's): restore keeps
 * every part of a file open at once, each with its current frame decoded, so a part's frames are small (64 KiB,
 * or one block when blocks are larger) rather than a 1 MiB chunk each. Measured on the last of a chain of 30
 * (pgbench scale 50, lz4, process-max 2), restore peaked at 448 MiB with 1 MiB frames, 282-289 MiB with 128 KiB
 * and 255-259 MiB with 64 KiB; pgbench parts stored 4-5% more with lz4 than in 1 MiB frames (128 KiB: 1.6-2.5%).
 * A part holding the whole file (a full's, a block size change) is read as the main part, streamed, and keeps
 * 1 MiB frames.
 */
export function partFrameSize(blockSize: number): number {
  return Math.max(blockSize, PART_FRAME_MIN);
}
const PART_FRAME_MIN = 64 * 1024;

/** Each kind's magic; both the same length. */
const MAGIC: Readonly<Record<BlockChecksumKind, Buffer>> = {
  sha256: Buffer.from('PGSTBLK1'),
  xxh64: Buffer.from('PGSTBLK2'),
};
const MAGIC_BYTES = 8;
/** magic, block size (u32), block count (u32), part count (u16). */
const HEADER_BYTES = MAGIC_BYTES + 4 + 4 + 2;
/** part (u16), slot (u32), checksum. */
const ENTRY_BYTES = 2 + 4 + BLOCK_CHECKSUM_BYTES;

/**
 * The block size for a file of `size` bytes: the smallest power of two from 8 KiB (a PostgreSQL page) that keeps
 * the map at BLOCKS_TARGET blocks or fewer (docs/architecture.md says why).
 */
export function blockSizeFor(size: number): number {
  let blockSize = BLOCK_SIZE_MIN;
  while (blockSize < BLOCK_SIZE_MAX && Math.ceil(size / blockSize) > BLOCKS_TARGET) blockSize *= 2;
  return blockSize;
}

/** Blocks of a file of `size` bytes. */
export function blockCountOf(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize);
}

/** The part of @node-rs/xxhash the maps use. */
interface XxhashBinding {
  xxh64(input: Uint8Array): bigint;
}
let xxhash: XxhashBinding | undefined;

function xxh64(block: Uint8Array): bigint {
  xxhash ??= loadNative<XxhashBinding>((platform) => `@node-rs/xxhash-linux-${platform}`, '@node-rs/xxhash');
  return xxhash.xxh64(block);
}

/** The short checksum of one block's content, as a map of `kind` records it. One-shot: no hash object per block. */
export function blockChecksum(kind: BlockChecksumKind, block: Buffer): Buffer {
  if (kind === 'sha256') return hash('sha256', block, 'buffer').subarray(0, BLOCK_CHECKSUM_BYTES);
  const checksum = Buffer.allocUnsafe(BLOCK_CHECKSUM_BYTES);
  checksum.writeBigUInt64BE(xxh64(block));
  return checksum;
}

export class BlockMap {
  readonly checksumKind: BlockChecksumKind;
  readonly blockSize: number;
  readonly partCount: number;
  /** Per block: the index of the part (ManifestBlocks.parts) holding it. */
  readonly parts: Uint16Array;
  /** Per block: its index among the blocks its part stored (they are stored in file order). */
  readonly slots: Uint32Array;
  /** BLOCK_CHECKSUM_BYTES per block. */
  readonly checksums: Buffer;

  constructor(blockSize: number, count: number, partCount: number, checksumKind: BlockChecksumKind) {
    this.checksumKind = checksumKind;
    this.blockSize = blockSize;
    this.partCount = partCount;
    this.parts = new Uint16Array(count);
    this.slots = new Uint32Array(count);
    this.checksums = Buffer.alloc(count * BLOCK_CHECKSUM_BYTES);
  }

  get count(): number {
    return this.parts.length;
  }

  checksumOf(block: number): Buffer {
    return this.checksums.subarray(block * BLOCK_CHECKSUM_BYTES, (block + 1) * BLOCK_CHECKSUM_BYTES);
  }

  /** Whether block `block` has content `checksum` (false past the end of the map). */
  matches(block: number, checksum: Buffer): boolean {
    return block < this.count && this.checksumOf(block).equals(checksum);
  }

  /** Whether `data` is the content the map records for block `block` (its short checksum compared in place). */
  holds(block: number, data: Buffer): boolean {
    if (block >= this.count) return false;
    const at = block * BLOCK_CHECKSUM_BYTES;
    if (this.checksumKind === 'xxh64') return xxh64(data) === this.checksums.readBigUInt64BE(at);
    return (
      hash('sha256', data, 'buffer').compare(
        this.checksums,
        at,
        at + BLOCK_CHECKSUM_BYTES,
        0,
        BLOCK_CHECKSUM_BYTES,
      ) === 0
    );
  }

  set(block: number, part: number, slot: number, checksum: Buffer): void {
    this.parts[block] = part;
    this.slots[block] = slot;
    checksum.copy(this.checksums, block * BLOCK_CHECKSUM_BYTES, 0, BLOCK_CHECKSUM_BYTES);
  }

  /** The map as stored (then compressed and encrypted like any repository file). */
  encode(): Buffer {
    const out = Buffer.alloc(HEADER_BYTES + this.count * ENTRY_BYTES);
    MAGIC[this.checksumKind].copy(out, 0);
    out.writeUInt32LE(this.blockSize, MAGIC_BYTES);
    out.writeUInt32LE(this.count, MAGIC_BYTES + 4);
    out.writeUInt16LE(this.partCount, MAGIC_BYTES + 8);
    for (let block = 0; block < this.count; block++) {
      const at = HEADER_BYTES + block * ENTRY_BYTES;
      out.writeUInt16LE(this.parts[block] as number, at);
      out.writeUInt32LE(this.slots[block] as number, at + 2);
      this.checksumOf(block).copy(out, at + 6);
    }
    return out;
  }

  /**
   * Decodes a stored map of file `file` (named in errors), checking it against what the manifest says: the block
   * size, the file's size and each part's number of blocks. Anything else is fileInvalid (28).
   */
  static decode(
    data: Buffer,
    file: string,
    expect: { blockSize: number; size: number; partBlocks: readonly number[] },
  ): BlockMap {
    const invalid = (reason: string) =>
      new PgStashError('fileInvalid', `block map of '${file}' is invalid: ${reason}`, {
        hint: 'the backup is damaged: restore another backup set with --set',
      });
    const magic = data.subarray(0, MAGIC_BYTES);
    const checksumKind = (Object.keys(MAGIC) as BlockChecksumKind[]).find((kind) =>
      MAGIC[kind].equals(magic),
    );
    if (data.length < HEADER_BYTES || checksumKind === undefined) throw invalid('not a pgstash block map');
    const blockSize = data.readUInt32LE(MAGIC_BYTES);
    const count = data.readUInt32LE(MAGIC_BYTES + 4);
    const partCount = data.readUInt16LE(MAGIC_BYTES + 8);
    if (blockSize !== expect.blockSize)
      throw invalid(`block size ${blockSize}, the manifest records ${expect.blockSize}`);
    if (count !== blockCountOf(expect.size, blockSize))
      throw invalid(`${count} blocks for a file of ${expect.size} bytes`);
    if (partCount !== expect.partBlocks.length)
      throw invalid(`${partCount} parts, the manifest records ${expect.partBlocks.length}`);
    if (data.length !== HEADER_BYTES + count * ENTRY_BYTES)
      throw invalid(`${data.length} bytes for ${count} blocks`);
    const map = new BlockMap(blockSize, count, partCount, checksumKind);
    const { parts, slots, checksums } = map;
    const partBlocks = Uint32Array.from(expect.partBlocks);
    // Byte arithmetic rather than readUInt16LE/readUInt32LE calls: every worker of a restore decodes each map it
    // needs once, before JIT has warmed up, and a call per field cost 20-50 ms for a 10240-block map there.
    for (let block = 0, at = HEADER_BYTES; block < count; block++, at += ENTRY_BYTES) {
      const part = (data[at] as number) | ((data[at + 1] as number) << 8);
      const slot =
        ((data[at + 2] as number) |
          ((data[at + 3] as number) << 8) |
          ((data[at + 4] as number) << 16) |
          ((data[at + 5] as number) << 24)) >>>
        0;
      if (part >= partCount || slot >= (partBlocks[part] as number))
        throw invalid(`block ${block} refers to block ${slot} of part ${part}, which does not exist`);
      parts[block] = part;
      slots[block] = slot;
      let to = block * BLOCK_CHECKSUM_BYTES;
      for (let from = at + 6; from < at + ENTRY_BYTES; from++, to++) checksums[to] = data[from] as number;
    }
    return map;
  }
}
