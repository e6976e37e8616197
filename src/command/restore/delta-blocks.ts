// restore --delta of a block-stored file: compares the file in place block by block with the backup's block map and
// rewrites only the blocks that differ (a large relation with a few changed pages costs those pages, not the file).
import { closeSync, constants, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { errnoOf, PgStashError, reasonOf } from '../../common/errors.js';
import { openForDirectRead, readAhead } from '../../storage/direct-read.js';
import { DIRECT_ALIGNMENT } from '../../storage/direct-file.js';
import { blockCountOf, type BlockMap } from '../../repo/block-map.js';
import { BlockSource, isBlockFile, readBlockMap, type BlockFile } from '../../repo/block-read.js';
import type { ManifestFile } from '../../repo/manifest.js';
import type { Repository } from '../../repo/repository.js';
import { removeChanged, setAttributes } from './delta-file.js';

/** What patching a file in place did: the bytes of the blocks it rewrote (0: the file already matched). */
export interface PatchedFile {
  readonly writtenBytes: number;
}

/** Blocks `first` up to (not including) `end` of a file whose first `inPlaceSize` bytes were in place when it began. */
export interface BlockRange {
  readonly first: number;
  readonly end: number;
  /** The file's size in place once prepared (prepareInPlace): no byte at or past it is compared, all are written. */
  readonly inPlaceSize: number;
}

/**
 * Readies a block-stored file in place for patching (on any thread; a few system calls): it must be a regular file
 * this user may write and, unless running as root, owns (else its owner could not be set right); a longer file is
 * cut to the backup's size, as pgBackRest does. Returns the size in place, or undefined when the file cannot be
 * patched (not block-stored, missing, a link, not a regular file, not writable or not this user's): the restore
 * then compares and writes it the usual way.
 */
export function prepareInPlace(
  path: string,
  file: ManifestFile,
  options: { restoreOwner: boolean },
): { inPlaceSize: number } | undefined {
  if (!isBlockFile(file)) return undefined;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
  } catch {
    // Missing, a link, or not writable by this user: written anew by the usual path.
    return undefined;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return undefined;
    if (!options.restoreOwner && stats.uid !== process.getuid?.()) return undefined;
    if (stats.size > file.size) ftruncateSync(fd, file.size);
    return { inPlaceSize: Math.min(stats.size, file.size) };
  } catch (error) {
    throw new PgStashError('fileWrite', `unable to restore '${path}' in place: ${reasonOf(error)}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Once every block of a patched file is right: cuts it to the backup's size (it may have been shorter and then
 * longer than one block's end) and gives it the manifest's mode, owner (as root) and mtime. False when that cannot
 * be done (setAttributes): the file is then removed, to be written anew.
 */
export function finishInPlace(path: string, file: ManifestFile, options: { restoreOwner: boolean }): boolean {
  let right: boolean;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
  } catch (error) {
    throw new PgStashError('fileOpen', `unable to open '${path}' restored in place: ${reasonOf(error)}`);
  }
  try {
    if (fstatSync(fd).size !== file.size) ftruncateSync(fd, file.size);
    right = setAttributes(fd, fstatSync(fd), file, options.restoreOwner);
  } catch (error) {
    throw new PgStashError('fileWrite', `unable to restore '${path}' in place: ${reasonOf(error)}`);
  } finally {
    closeSync(fd);
  }
  if (!right) removeChanged(path);
  return right;
}

/** Every block of `file` as ranges of at most `parts` about equal ranges (at least one block each). */
export function blockRanges(file: BlockFile, parts: number, inPlaceSize: number): BlockRange[] {
  const count = blockCountOf(file.size, file.stored.block.blockSize);
  const ranges: BlockRange[] = [];
  const each = Math.ceil(count / Math.max(1, Math.min(parts, count)));
  for (let first = 0; first < count; first += each) {
    ranges.push({ first, end: Math.min(count, first + each), inPlaceSize });
  }
  return ranges;
}

/**
 * For a block-stored file of 1 block or more in place as a regular file this user may write (prepareInPlace), on
 * one thread: each block whose checksum is the map's stays, every other block is read from its part (verified
 * against the map) and written over it; then the file gets the manifest's size, mode, owner (as root) and mtime.
 * Undefined when the file cannot be patched (then possibly removed): the restore then compares and writes it the
 * usual way. A large file is patched as ranges on several workers instead (files.ts), with the same steps.
 */
export async function patchBlocks(
  repo: Repository,
  path: string,
  file: ManifestFile,
  options: { restoreOwner: boolean },
): Promise<PatchedFile | undefined> {
  const prepared = prepareInPlace(path, file, options);
  if (prepared === undefined || !isBlockFile(file)) return undefined;
  const [range] = blockRanges(file, 1, prepared.inPlaceSize);
  const written = range === undefined ? 0 : await patchRange(repo, path, file, range);
  if (!finishInPlace(path, file, options)) return undefined;
  return { writtenBytes: written };
}

/** The map last read on this thread: the ranges of one file, run one after another here, read it once. */
let lastMap: { readonly key: string; readonly map: BlockMap } | undefined;

async function mapOf(repo: Repository, file: BlockFile): Promise<BlockMap> {
  const key = `${file.name}\0${file.stored.block.map.sha256}`;
  if (lastMap?.key !== key) lastMap = { key, map: await readBlockMap(repo, file) };
  return lastMap.map;
}

/**
 * Blocks `range` of the file at `path`, prepared by prepareInPlace: compared in place with the map, and each one
 * that differs (or lies at or past the size in place) written from the repository; returns the bytes written.
 *
 * Why no whole-file SHA-256 here (the plain restore checks one): every block of the result is then either one
 * found in place whose SHA-256, cut to 64 bits, is the map's, or one read from the repository and checked against
 * the map the same way, and the map itself is read against the SHA-256 the manifest records. Hashing the file a
 * second time would double the CPU of the delta restore's critical path (docs/architecture.md).
 *
 * The file is read in 1 MiB pieces ahead on libuv's pool, with direct I/O where the filesystem allows
 * (storage/direct-read.ts: not one call per block, and no copy through the page cache), while this thread hashes
 * the piece before. A piece holds whole blocks: block sizes are powers of two up to DIRECT_READ_SIZE, ranges start
 * on a block, and every read but the last is a full one.
 */
export async function patchRange(
  repo: Repository,
  path: string,
  file: BlockFile,
  range: BlockRange,
): Promise<number> {
  const source = await BlockSource.open(repo, file, { map: await mapOf(repo, file), checkParts: false });
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW);
    return await patchOpen(path, fd, source, range);
  } catch (error) {
    if (error instanceof PgStashError) throw error;
    throw new PgStashError('fileWrite', `unable to restore '${path}' in place: ${reasonOf(error)}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
    await source.close();
  }
}

async function patchOpen(path: string, fd: number, source: BlockSource, range: BlockRange): Promise<number> {
  const { blockSize } = source.map;
  let written = 0;
  const write = (data: Buffer, block: number): void => {
    writeSync(fd, data, 0, data.length, block * blockSize);
    written += data.length;
  };
  let block = range.first;
  if (range.first * blockSize < range.inPlaceSize) {
    const reader = openForDirectRead(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      try {
        block = await compareRead(reader.fd, source, range, write);
      } catch (error) {
        // A filesystem that takes O_DIRECT at the open but refuses its reads fails the first one, before any block.
        if (!reader.direct || errnoOf(error) !== 'EINVAL' || written !== 0) throw error;
        closeSync(reader.fd);
        reader.fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
        reader.direct = false;
        block = await compareRead(reader.fd, source, range, write);
      }
    } finally {
      closeSync(reader.fd);
    }
  }
  // Blocks at or past the end of the file in place.
  for (; block < range.end; block++) write(await source.read(block), block);
  return written;
}

/**
 * The compare-and-write loop over the blocks of `range` in place; returns the first block it did not see (the end
 * of the range, or of the file in place). Reads stop at the size in place (rounded up for direct I/O), and bytes
 * past it are never taken as in place: another range of the same file may be writing past the old end meanwhile,
 * and what a read finds there (a hole reads as zeros) must not pass for a block of the file.
 */
async function compareRead(
  readFd: number,
  source: BlockSource,
  range: BlockRange,
  write: (data: Buffer, block: number) => void,
): Promise<number> {
  const { map } = source;
  const { blockSize } = map;
  const start = range.first * blockSize;
  const stop = Math.min(
    range.end * blockSize,
    Math.ceil(range.inPlaceSize / DIRECT_ALIGNMENT) * DIRECT_ALIGNMENT,
  );
  let block = range.first;
  let at = start;
  for await (const piece of readAhead(readFd, { start, end: stop })) {
    const inPlace = Math.min(piece.length, range.inPlaceSize - at);
    for (let offset = 0; offset < inPlace && block < range.end; offset += blockSize, block++) {
      const length = source.lengthOf(block);
      if (offset + length <= inPlace && map.holds(block, piece.subarray(offset, offset + length))) continue;
      write(await source.read(block), block);
    }
    at += piece.length;
    if (block >= range.end || at >= range.inPlaceSize) break;
  }
  return block;
}
