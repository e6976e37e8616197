// restore --delta of a block-stored file: compares the file in place block by block with the backup's block map and
// rewrites only the blocks that differ (a large relation with a few changed pages costs those pages, not the file).
import { closeSync, constants, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { errnoOf, PgStashError, reasonOf } from '../../common/errors.js';
import { openForDirectRead, readAhead } from '../../storage/direct-read.js';
import { ContentDigest } from '../../io/stage.js';
import { blockChecksum } from '../../repo/block-map.js';
import { BlockSource, isBlockFile } from '../../repo/block-read.js';
import type { ManifestFile } from '../../repo/manifest.js';
import type { Repository } from '../../repo/repository.js';
import { removeChanged, setAttributes } from './delta-file.js';

/** What patching a file in place did: the bytes of the blocks it rewrote (0: the file already matched). */
export interface PatchedFile {
  readonly writtenBytes: number;
}

/**
 * For a block-stored file of 1 block or more in place as a regular file this user may write: each block whose short
 * checksum is the map's stays, every other block is read from its part (verified) and written over it; the file
 * is cut to the backup's size, and the whole is then checked against the manifest's SHA-256 (the kept blocks
 * included), then given the manifest's mode, owner (as root) and mtime. Undefined when the file cannot be patched
 * (not a block-stored file, missing, not a regular file, not writable, or not right after patching, then removed):
 * the restore then compares and writes it the usual way.
 */
export async function patchBlocks(
  repo: Repository,
  path: string,
  file: ManifestFile,
  options: { restoreOwner: boolean },
): Promise<PatchedFile | undefined> {
  if (!isBlockFile(file)) return undefined;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
  } catch {
    // Missing, a link, or not writable by this user: written anew by the usual path.
    return undefined;
  }
  let written = 0;
  let right = false;
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const source = await BlockSource.open(repo, file);
    const digest = new ContentDigest();
    try {
      written = await patchInPlace(path, fd, source, digest);
    } finally {
      await source.close();
    }
    if (fstatSync(fd).size !== file.size) ftruncateSync(fd, file.size);
    right = digest.size === file.size && digest.digest() === file.sha256;
    if (right) right = setAttributes(fd, fstatSync(fd), file, options.restoreOwner);
  } catch (error) {
    if (error instanceof PgStashError) throw error;
    throw new PgStashError('fileWrite', `unable to restore '${path}' in place: ${reasonOf(error)}`);
  } finally {
    closeSync(fd);
  }
  if (!right) {
    removeChanged(path);
    return undefined;
  }
  return { writtenBytes: written };
}

/**
 * Compares the file open read-write at `fd` with the map block by block, writing every block that differs (or lies
 * past its end) from the repository; returns the bytes written. The file is read in 1 MiB pieces ahead on libuv's
 * pool, with direct I/O where the filesystem allows (storage/direct-read.ts: not one call per block, and no copy
 * through the page cache), while this thread hashes the piece before. A piece holds whole blocks: block sizes are
 * powers of two up to DIRECT_READ_SIZE, and every read but the last is a full one.
 */
async function patchInPlace(
  path: string,
  fd: number,
  source: BlockSource,
  digest: ContentDigest,
): Promise<number> {
  const { blockSize, count } = source.map;
  let written = 0;
  let block = 0;
  const reader = openForDirectRead(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    try {
      block = await compareRead(reader.fd, fd, source, digest, (bytes) => (written += bytes));
    } catch (error) {
      // A filesystem that takes O_DIRECT at the open but refuses its reads fails the first one, before any block.
      if (!reader.direct || errnoOf(error) !== 'EINVAL' || digest.size !== 0 || written !== 0) throw error;
      closeSync(reader.fd);
      reader.fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
      reader.direct = false;
      block = await compareRead(reader.fd, fd, source, digest, (bytes) => (written += bytes));
    }
  } finally {
    closeSync(reader.fd);
  }
  // Blocks past the end of the file in place.
  for (; block < count; block++) {
    const data = await source.read(block);
    writeSync(fd, data, 0, data.length, block * blockSize);
    written += data.length;
    digest.update(data);
  }
  return written;
}

/** The compare-and-write loop over what `readFd` reads; returns the first block it did not see (the file's end). */
async function compareRead(
  readFd: number,
  writeFd: number,
  source: BlockSource,
  digest: ContentDigest,
  wrote: (bytes: number) => void,
): Promise<number> {
  const { blockSize, count } = source.map;
  let block = 0;
  for await (const piece of readAhead(readFd)) {
    for (let offset = 0; offset < piece.length && block < count; offset += blockSize, block++) {
      const length = source.lengthOf(block);
      const inPlace = piece.subarray(offset, offset + length);
      if (inPlace.length === length && blockChecksum(inPlace).equals(source.map.checksumOf(block))) {
        digest.update(inPlace);
        continue;
      }
      const data = await source.read(block);
      writeSync(writeFd, data, 0, length, block * blockSize);
      wrote(length);
      digest.update(data);
    }
    if (block >= count) break;
  }
  return block;
}
