// Reading a block-stored file back: its map, and its blocks from the parts (backups) the map names, streamed.
import { PgStashError } from '../common/errors.js';
import { CHUNK_SIZE } from '../io/chunker.js';
import { ContentDigest } from '../io/stage.js';
import { BlockMap, blockCountOf } from './block-map.js';
import { blockMapPath, type BlockPart, type ManifestBlocks, type ManifestFile } from './manifest.js';
import { repoLayout } from './layout.js';
import { compressExtension } from '../io/compress.js';
import type { Repository } from './repository.js';

/** A file of a manifest that is stored as blocks. */
export type BlockFile = ManifestFile & { readonly stored: { readonly block: ManifestBlocks } };

export function isBlockFile(file: ManifestFile): file is BlockFile {
  return file.stored.block !== undefined;
}

/** Reads and checks the map of `file` (checksum 26 when its stored bytes are damaged, 28 when it makes no sense). */
export async function readBlockMap(repo: Repository, file: BlockFile): Promise<BlockMap> {
  const { block } = file.stored;
  const path = blockMapPath(repo.stanza, file);
  const chunks = await repo.getChunks(path, {
    sha256: block.map.sha256,
    size: block.map.size,
    storedSize: block.map.storedSize,
    encrypted: file.stored.cipher !== 'none',
  });
  if (chunks === undefined) missing(repo, path);
  const pieces: Buffer[] = [];
  for await (const chunk of chunks) pieces.push(Buffer.from(chunk));
  return BlockMap.decode(Buffer.concat(pieces), file.name, {
    blockSize: block.blockSize,
    size: file.size,
    partBlocks: block.parts.map((part) => blockCountOf(part.originalSize, block.blockSize)),
  });
}

function missing(repo: Repository, path: string): never {
  throw new PgStashError('fileMissing', `backup file '${repo.location}/${path}' is missing`, {
    hint: 'the backup is damaged: restore another backup set with --set',
  });
}

/** Where a part's blocks of file `name` are stored. */
function partPath(repo: Repository, name: string, part: BlockPart): string {
  return repoLayout.backupFile(repo.stanza, part.holder, name, compressExtension(part.compressType));
}

/**
 * The blocks one part stored, read forward only (a map's blocks of one part come in slot order): skipping a
 * block decodes it and drops it. Holds at most a chunk and a block.
 */
class PartReader {
  readonly #chunks: AsyncGenerator<Buffer>;
  readonly #blockSize: number;
  readonly #path: string;
  /** Offset in the part of the first byte of #current. */
  #at = 0;
  #current: Buffer = Buffer.alloc(0);

  constructor(chunks: AsyncGenerator<Buffer>, blockSize: number, path: string) {
    this.#chunks = chunks;
    this.#blockSize = blockSize;
    this.#path = path;
  }

  /** The `length` bytes of block `slot`. */
  async block(slot: number, length: number): Promise<Buffer> {
    const start = slot * this.#blockSize;
    if (start < this.#at) throw new PgStashError('assert', `block ${slot} of '${this.#path}' read twice`);
    const pieces: Buffer[] = [];
    let needed = length;
    let offset = start;
    while (needed > 0) {
      const end = this.#at + this.#current.length;
      if (offset >= end) {
        const next = await this.#chunks.next();
        if (next.done === true)
          throw new PgStashError('checksum', `'${this.#path}' is corrupt: it ends before block ${slot}`);
        this.#at = end;
        this.#current = next.value;
        continue;
      }
      const piece = this.#current.subarray(offset - this.#at, offset - this.#at + needed);
      pieces.push(piece);
      needed -= piece.length;
      offset += piece.length;
    }
    return pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces);
  }

  async close(): Promise<void> {
    await this.#chunks.return(undefined);
  }
}

/** A run of blocks one after another in one part (BlockSource.planRun). */
export interface PlannedRun {
  readonly block: number;
  readonly part: number;
  readonly slot: number;
  readonly blocks: number;
  readonly length: number;
}

/** The blocks of a file, each with where it comes from; `source` reads a block from the repository, verified. */
export class BlockSource {
  readonly map: BlockMap;
  readonly #repo: Repository;
  readonly #file: BlockFile;
  readonly #readers = new Map<number, PartReader>();
  /** The part holding most of the file's blocks: the only one read with the usual read-ahead. */
  readonly #mainPart: number;

  /** Whether each part's whole SHA-256 is computed as it is read (see open). */
  readonly #checkParts: boolean;

  private constructor(repo: Repository, file: BlockFile, map: BlockMap, checkParts: boolean) {
    this.#repo = repo;
    this.#file = file;
    this.map = map;
    this.#checkParts = checkParts;
    const blocksOf = new Uint32Array(map.partCount);
    for (const part of map.parts) blocksOf[part] = (blocksOf[part] as number) + 1;
    let main = 0;
    for (let part = 1; part < map.partCount; part++)
      if ((blocksOf[part] as number) > (blocksOf[main] as number)) main = part;
    this.#mainPart = main;
  }

  /**
   * `map`: the file's map, when the caller has read it already (readBlockMap). `checkParts: false`: each part is
   * read without its whole SHA-256, for a caller that reads a few blocks (restore --delta): every block read is
   * checked against the map all the same, and a part closed before its end never reached that check, while
   * hashing every byte skipped on the way to a block doubled the cost of the skip.
   */
  static async open(
    repo: Repository,
    file: BlockFile,
    options: { map?: BlockMap; checkParts?: boolean } = {},
  ): Promise<BlockSource> {
    return new BlockSource(
      repo,
      file,
      options.map ?? (await readBlockMap(repo, file)),
      options.checkParts ?? true,
    );
  }

  /**
   * Whether reading some part waits on more than this thread: a zstd or gzip part (decoded on libuv's pool), or any
   * part of an object store (each piece a request). Then readBlockFile reads ahead.
   */
  get waitsOffThread(): boolean {
    return (
      !this.#repo.driver.capabilities.path ||
      this.#file.stored.block.parts.some((part) => part.compressType === 'zst' || part.compressType === 'gz')
    );
  }

  /** Bytes of block `block` of the file (the last one may be shorter). */
  lengthOf(block: number): number {
    const { blockSize } = this.map;
    return Math.min(blockSize, this.#file.size - block * blockSize);
  }

  /** Block `block`, read from its part and checked against the map; blocks must be asked for in file order. */
  async read(block: number): Promise<Buffer> {
    return (await this.readRun(block, 1)).data;
  }

  /**
   * Blocks from `block` on that lie one after another in the same part (at most `max` blocks), read at once and
   * each checked against the map: a file mostly held by one part is read in large pieces, not block by block.
   */
  async readRun(block: number, max: number): Promise<{ data: Buffer; blocks: number }> {
    return this.readPlanned(this.planRun(block, max));
  }

  /** Where readRun(block, max) reads from: the part, its first slot, how many blocks and their bytes (no I/O). */
  planRun(block: number, max: number): PlannedRun {
    const { parts, slots } = this.map;
    const part = parts[block] as number;
    const slot = slots[block] as number;
    let blocks = 1;
    let length = this.lengthOf(block);
    while (
      blocks < max &&
      block + blocks < this.map.count &&
      parts[block + blocks] === part &&
      slots[block + blocks] === slot + blocks
    ) {
      length += this.lengthOf(block + blocks);
      blocks++;
    }
    return { block, part, slot, blocks, length };
  }

  /**
   * Reads a planned run. Runs of one part must be read in the order they were planned (each part is read forward),
   * one at a time; runs of different parts may be read at once.
   */
  async readPlanned({
    block,
    part,
    slot,
    blocks,
    length,
  }: PlannedRun): Promise<{ data: Buffer; blocks: number }> {
    const reader = this.#readers.get(part) ?? (await this.#openPart(part));
    const data = await reader.block(slot, length);
    const { blockSize } = this.map;
    for (let index = 0; index < blocks; index++) {
      const one = data.subarray(index * blockSize, (index + 1) * blockSize);
      if (!this.map.holds(block + index, one)) {
        const path = partPath(this.#repo, this.#file.name, this.#part(part));
        throw new PgStashError(
          'checksum',
          `'${this.#repo.location}/${path}' is corrupt: block ${block + index} of '${this.#file.name}' does not match its map`,
        );
      }
    }
    return { data, blocks };
  }

  #part(index: number): BlockPart {
    return this.#file.stored.block.parts[index] as BlockPart;
  }

  /**
   * For a part read without its whole SHA-256 whose frame size is recorded: the lengths of the frames that hold no
   * block of this file's map, which are then cut out but not decoded (DecodeOptions.skipFrame). On the last of a
   * chain, many blocks of the earlier parts were replaced by later backups.
   */
  #framesToSkip(index: number): ((frame: number) => number | undefined) | undefined {
    const { frameSize, originalSize } = this.#part(index);
    if (this.#checkParts || frameSize === undefined) return undefined;
    const { blockSize, parts, slots } = this.map;
    const used = new Uint8Array(Math.ceil(originalSize / frameSize));
    for (let block = 0; block < this.map.count; block++) {
      if (parts[block] !== index) continue;
      const start = (slots[block] as number) * blockSize;
      const last = Math.min(start + this.lengthOf(block), originalSize) - 1;
      for (let frame = Math.floor(start / frameSize); frame <= Math.floor(last / frameSize); frame++)
        used[frame] = 1;
    }
    return (frame) => (used[frame] === 0 ? Math.min(frameSize, originalSize - frame * frameSize) : undefined);
  }

  async #openPart(index: number): Promise<PartReader> {
    const part = this.#part(index);
    const path = partPath(this.#repo, this.#file.name, part);
    const skipFrame = this.#framesToSkip(index);
    const chunks = await this.#repo.getChunks(path, {
      sha256: part.sha256,
      size: part.originalSize,
      storedSize: part.size,
      encrypted: part.cipher !== 'none',
      // Every part of a file read at once stays open until the file is done (up to one per backup of the chain):
      // all but the main one decode a frame at a time, so memory grows by about a frame per part, not four.
      ...(index === this.#mainPart ? {} : { onDemand: true, framesAhead: 1 }),
      ...(this.#checkParts ? {} : { checkWhole: false }),
      ...(skipFrame === undefined ? {} : { skipFrame }),
      ...(part.frameSize === undefined ? {} : { frameSize: part.frameSize }),
    });
    if (chunks === undefined) missing(this.#repo, path);
    const reader = new PartReader(chunks, this.map.blockSize, `${this.#repo.location}/${path}`);
    this.#readers.set(index, reader);
    return reader;
  }

  async close(): Promise<void> {
    for (const reader of this.#readers.values()) await reader.close();
    this.#readers.clear();
  }
}

/**
 * Runs read ahead of the one being used, at most (and at most READ_AHEAD_BYTES of them), when a part waits on
 * something else than this thread (BlockSource.waitsOffThread). Why: on the last of a chain the file's blocks come
 * from many parts in turn, most a block at a time from a part of small frames; read one after another, each zstd
 * frame was a round trip to libuv's pool while the thread waited. Runs of different parts are read at once, so
 * those frames decode on the pool side by side. lz4 decodes on the thread itself: reading ahead there only holds
 * more memory.
 */
const READ_AHEAD_RUNS = 16;
const READ_AHEAD_BYTES = 4 * CHUNK_SIZE;

/**
 * The original bytes of a block-stored file, block by block, each block checked against the map and the whole
 * against the file's SHA-256 and size (checksum error 26 naming the file): use the data only once the loop ends.
 * `checkParts: false` (restore) reads each part without its whole SHA-256 (see BlockSource.open): every byte
 * yielded is still checked twice, by its block's checksum and by the file's SHA-256, while the bytes of blocks a
 * later backup replaced are not hashed for nothing (on the last of a chain of 30 the parts held twice the file).
 * Runs are read ahead in file order (READ_AHEAD_RUNS) when that helps, each part's runs one after another.
 */
export async function* readBlockFile(
  repo: Repository,
  file: BlockFile,
  options: { checkParts?: boolean } = {},
): AsyncGenerator<Buffer> {
  const source = await BlockSource.open(repo, file, options);
  const digest = new ContentDigest();
  // Runs of up to a chunk's worth of blocks.
  const run = Math.max(1, Math.floor(CHUNK_SIZE / source.map.blockSize));
  const aheadRuns = source.waitsOffThread ? READ_AHEAD_RUNS : 1;
  const ahead: { length: number; read: Promise<{ data: Buffer; blocks: number }> }[] = [];
  /** Each part's latest read: the next run of that part starts once it is done (a part is read forward). */
  const partTail = new Map<number, Promise<unknown>>();
  let aheadBytes = 0;
  let next = 0;
  const planAhead = (): void => {
    while (
      next < source.map.count &&
      ahead.length < aheadRuns &&
      (ahead.length === 0 || aheadBytes < READ_AHEAD_BYTES)
    ) {
      const planned = source.planRun(next, run);
      next += planned.blocks;
      const read = (partTail.get(planned.part) ?? Promise.resolve()).then(() => source.readPlanned(planned));
      // Awaited in order below; a later read failing first must not be reported as unhandled meanwhile.
      const settled = read.then(
        () => undefined,
        () => undefined,
      );
      partTail.set(planned.part, settled);
      ahead.push({ length: planned.length, read });
      aheadBytes += planned.length;
    }
  };
  try {
    planAhead();
    for (let first = ahead.shift(); first !== undefined; first = ahead.shift()) {
      const { data } = await first.read;
      aheadBytes -= first.length;
      planAhead();
      digest.update(data);
      yield data;
    }
  } finally {
    // No part may be closed while a read ahead is still using it.
    await Promise.all(partTail.values());
    await source.close();
  }
  if (digest.size !== file.size || digest.digest() !== file.sha256) {
    throw new PgStashError(
      'checksum',
      `'${file.name}' put together from its blocks does not match the manifest (expected ${file.sha256}, got ${digest.digest()}, size ${digest.size})`,
    );
  }
}
