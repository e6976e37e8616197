// restore --delta of a block-stored file: compares the file in place block by block with the backup's block map and
// rewrites only the blocks that differ (a large relation with a few changed pages costs those pages, not the file).
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { PgStashError, reasonOf } from '../../common/errors.js';
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
      const buffer = Buffer.allocUnsafe(source.map.blockSize);
      for (let block = 0; block < source.map.count; block++) {
        const length = source.lengthOf(block);
        const position = block * source.map.blockSize;
        const inPlace = buffer.subarray(0, readFully(fd, buffer.subarray(0, length), position));
        if (inPlace.length === length && blockChecksum(inPlace).equals(source.map.checksumOf(block))) {
          digest.update(inPlace);
          continue;
        }
        const data = await source.read(block);
        writeSync(fd, data, 0, length, position);
        written += length;
        digest.update(data);
      }
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

/** Reads up to buffer.length bytes at `position`; fewer only at the end of the file. */
function readFully(fd: number, buffer: Buffer, position: number): number {
  let done = 0;
  while (done < buffer.length) {
    const read = readSync(fd, buffer, done, buffer.length - done, position + done);
    if (read === 0) break;
    done += read;
  }
  return done;
}
