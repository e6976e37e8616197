// restore --delta, one file: whether the file already in place matches the backup's (then it stays), on a worker.
import { createHash } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  ftruncateSync,
  fchownSync,
  fstatSync,
  futimesSync,
  openSync,
  readSync,
  constants,
} from 'node:fs';
import { unlinkSync } from 'node:fs';
import { errnoOf, PgStashError, reasonOf } from '../../common/errors.js';
import type { ManifestFile } from '../../repo/manifest.js';
import { ownerIds } from './restore-file.js';

/** How --delta compares a file in place with the backup's: by SHA-256, or (with --force) by size and mtime. */
export type DeltaCompare = 'checksum' | 'mtime';

/** Read size while hashing: bounded memory, whatever the file's size. */
const HASH_BUFFER = 1024 * 1024;

function sha256Of(fd: number): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(HASH_BUFFER);
  for (;;) {
    const read = readSync(fd, buffer, 0, buffer.length, null);
    if (read === 0) break;
    hash.update(buffer.subarray(0, read));
  }
  return hash.digest('hex');
}

/**
 * Keeps the file at `path` if it matches `file` (same size and SHA-256, after cutting a longer file to the backup's
 * size; or with 'mtime' the same size and mtime in seconds, as pgBackRest's --delta --force), giving it the manifest's mode, owner (as root) and mtime; returns
 * true then. Otherwise removes it, so the restore writes a new file (never through what was there: a file this user
 * may not open for writing, say), and returns false. The cleaning pass (delta-clean.ts) has already removed
 * anything but a regular file at this name, and O_NOFOLLOW guards against a link put there since.
 */
export function keepIfMatching(
  path: string,
  file: ManifestFile,
  compare: DeltaCompare,
  options: { restoreOwner: boolean; backupStart: number },
): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    // Unreadable to us (its mode changed, say) or a link: it cannot be proven the same, so it is written again.
    removeChanged(path);
    return false;
  }
  let matches: boolean;
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) matches = false;
    else if (compare === 'mtime') {
      // pgBackRest's guard: a file modified in a second the backup copied in may have changed after the copy
      // without its mtime changing, so only an mtime before the backup started is trusted.
      matches =
        stats.size === file.size &&
        Math.floor(stats.mtimeMs / 1000) === file.mtime &&
        file.mtime < options.backupStart;
    } else {
      // A file that only grew since (a relation extended) may still start with the backup's bytes: cut to the
      // backup's size, as pgBackRest does, and the checksum decides; if it differs the file is written anyway.
      if (stats.size > file.size) truncateTo(path, file.size);
      matches = fstatSync(fd).size === file.size && sha256Of(fd) === file.sha256;
    }
    if (matches) matches = setAttributes(fd, file, options.restoreOwner);
  } catch (error) {
    throw new PgStashError('fileRead', `unable to compare '${path}' with the backup: ${reasonOf(error)}`);
  } finally {
    closeSync(fd);
  }
  if (!matches) removeChanged(path);
  return matches;
}

/**
 * Gives a kept file the manifest's mode, owner (as root) and mtime. A file not this (non-root) user's, which it may
 * read but not change (EPERM), cannot be made right in place: false, and it is written anew, as this user's.
 */
export function setAttributes(fd: number, file: ManifestFile, restoreOwner: boolean): boolean {
  try {
    fchmodSync(fd, file.mode);
    if (restoreOwner) {
      const { uid, gid } = ownerIds(file);
      fchownSync(fd, uid, gid);
    }
    futimesSync(fd, file.mtime, file.mtime);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'EPERM') return false;
    throw error;
  }
}

function truncateTo(path: string, size: number): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW);
  } catch {
    // Not writable to this user: the size check fails and the file is written anew.
    return;
  }
  try {
    ftruncateSync(fd, size);
  } catch (error) {
    throw new PgStashError('fileWrite', `unable to truncate '${path}': ${reasonOf(error)}`);
  } finally {
    closeSync(fd);
  }
}

export function removeChanged(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') {
      throw new PgStashError('fileWrite', `unable to remove '${path}': ${reasonOf(error)}`);
    }
  }
}
