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
  type Stats,
} from 'node:fs';
import { unlinkSync } from 'node:fs';
import { errnoOf, PgStashError, reasonOf } from '../../common/errors.js';
import type { ManifestFile } from '../../repo/manifest.js';
import { openForDirectRead, readAhead } from '../../storage/direct-read.js';
import { DIRECT_WRITE_BYTES, ownerIds } from './restore-file.js';

/** How --delta compares a file in place with the backup's: by SHA-256, or (with --force) by size and mtime. */
export type DeltaCompare = 'checksum' | 'mtime';

/** Read size while hashing a small file: bounded memory, whatever the file's size. */
const HASH_BUFFER = 1024 * 1024;

/** The read buffer of sha256Of's blocking loop, allocated once per thread. */
let hashBuffer: Buffer | undefined;

/** Files at least this large are read with direct I/O, a few reads in flight (storage/direct-read.ts). */
const DIRECT_READ_BYTES = DIRECT_WRITE_BYTES;

/**
 * SHA-256 of the open file, read from its start to its end. A large one is read ahead on libuv's pool, with direct
 * I/O where `fd` was opened so, while this thread hashes the chunk before: a relation file of hundreds of MiB (the
 * critical path of a delta restore, one file on one thread) costs the longer of reading and hashing it, not the
 * sum. A small one, most of a data directory, is read with blocking calls: a round trip through the pool would
 * cost more than the read.
 */
async function sha256Of(fd: number, large: boolean): Promise<string> {
  const hash = createHash('sha256');
  if (large) {
    for await (const chunk of readAhead(fd)) hash.update(chunk);
    return hash.digest('hex');
  }
  // The loop below never waits, so the one buffer serves every file this thread hashes: a 1 MiB allocation per file
  // of a data directory's thousand kept the garbage collector busy.
  const buffer = (hashBuffer ??= Buffer.allocUnsafe(HASH_BUFFER));
  for (;;) {
    const read = readSync(fd, buffer, 0, buffer.length, null);
    if (read === 0) break;
    hash.update(buffer.subarray(0, read));
  }
  return hash.digest('hex');
}

/** SHA-256 of the file at `path`, open at `fd`; opened again without O_DIRECT if the filesystem refuses its reads. */
async function sha256InPlace(
  path: string,
  opened: { fd: number; direct: boolean },
  size: number,
): Promise<string> {
  try {
    return await sha256Of(opened.fd, size >= DIRECT_READ_BYTES);
  } catch (error) {
    if (!opened.direct || errnoOf(error) !== 'EINVAL') throw error;
  }
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await sha256Of(fd, true);
  } finally {
    closeSync(fd);
  }
}

/**
 * Keeps the file at `path` if it matches `file` (same size and SHA-256, after cutting a longer file to the backup's
 * size; or with 'mtime' sameByTime, as pgBackRest's --delta --force), giving it the manifest's mode, owner (as root)
 * and mtime; returns true then. Otherwise removes it (unless `removeIfChanged` is false: the caller patches a
 * block-stored file in place), so the restore writes a new file (never through what was there: a file this user
 * may not open for writing, say), and returns false. The cleaning pass (delta-clean.ts) has already removed
 * anything but a regular file at this name, and O_NOFOLLOW guards against a link put there since.
 */
export async function keepIfMatching(
  path: string,
  file: ManifestFile,
  compare: DeltaCompare,
  options: { restoreOwner: boolean; backupStart: number; removeIfChanged?: boolean },
): Promise<boolean> {
  let opened: { fd: number; direct: boolean };
  try {
    opened = openForDirectRead(
      path,
      constants.O_RDONLY | constants.O_NOFOLLOW,
      compare === 'checksum' && file.size >= DIRECT_READ_BYTES,
    );
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    // Unreadable to us (its mode changed, say) or a link: it cannot be proven the same, so it is written again.
    removeChanged(path);
    return false;
  }
  const { fd } = opened;
  let matches: boolean;
  try {
    let stats = fstatSync(fd);
    if (!stats.isFile()) matches = false;
    else if (compare === 'mtime') matches = sameByTime(stats, file, options.backupStart);
    else {
      // A file that only grew since (a relation extended) may still start with the backup's bytes: cut to the
      // backup's size, as pgBackRest does, and the checksum decides; if it differs the file is written anyway.
      if (stats.size > file.size) {
        truncateTo(path, file.size);
        // Cut, it has a new size and mtime: what setAttributes compares with.
        stats = fstatSync(fd);
      }
      matches = stats.size === file.size && (await sha256InPlace(path, opened, stats.size)) === file.sha256;
    }
    if (matches) matches = setAttributes(fd, stats, file, options.restoreOwner);
  } catch (error) {
    throw new PgStashError('fileRead', `unable to compare '${path}' with the backup: ${reasonOf(error)}`);
  } finally {
    closeSync(fd);
  }
  if (!matches && options.removeIfChanged !== false) removeChanged(path);
  return matches;
}

/**
 * --delta --force's rule (pgBackRest's): a file in place is the backup's when its size and mtime (in seconds) are
 * the manifest's, and that mtime is before the backup started: a file modified in a second the backup copied in may
 * have changed after the copy without its mtime changing.
 */
export function sameByTime(stats: Stats, file: ManifestFile, backupStart: number): boolean {
  return (
    stats.isFile() &&
    stats.size === file.size &&
    Math.floor(stats.mtimeMs / 1000) === file.mtime &&
    file.mtime < backupStart
  );
}

/**
 * Gives a kept file the manifest's mode, owner (as root) and mtime, each only where it differs: a file left as it
 * was has an inode with nothing to write, so its fsync costs no journal commit. A file not this (non-root) user's,
 * which it may read but not change (EPERM) nor give to itself, cannot be made right in place: false, and it is
 * written anew, as this user's.
 */
export function setAttributes(fd: number, stats: Stats, file: ManifestFile, restoreOwner: boolean): boolean {
  try {
    if ((stats.mode & 0o7777) !== file.mode) fchmodSync(fd, file.mode);
    if (restoreOwner) {
      const { uid, gid } = ownerIds(file);
      if (stats.uid !== uid || stats.gid !== gid) fchownSync(fd, uid, gid);
    } else if (stats.uid !== process.getuid?.()) return false;
    // The manifest has whole seconds: a file kept with a fraction of a second gets the exact time, as a restored one.
    if (stats.mtimeMs !== file.mtime * 1000) futimesSync(fd, file.mtime, file.mtime);
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
