// Restores one backup file into place, verified against the manifest, with its mode, owner and mtime.
import { closeSync, fchmodSync, fchownSync, futimesSync, openSync, writeSync } from 'node:fs';
import { PgStashError, reasonOf } from '../../common/errors.js';
import { groupId, userId } from '../../common/os-users.js';
import { compressExtension, type CompressType } from '../../io/compress.js';
import { repoFilePath, type ManifestFile, type ManifestOwner } from '../../repo/manifest.js';
import type { WriteProgress } from '../../io/worker/write-progress.js';
import type { Repository } from '../../repo/repository.js';
import { destinationOf, type ResolvedTarget } from './destination.js';

/** What every file of one restore shares. */
export interface RestoreFileSettings {
  readonly label: string;
  readonly compressType: CompressType;
  readonly targets: readonly ResolvedTarget[];
  /** Running as root: give files the owner recorded in the manifest. */
  readonly restoreOwner: boolean;
}

/** The ids to give an entry: by user and group name on this host when they exist, else the recorded ids. */
export function ownerIds(owner: Pick<ManifestOwner, 'uid' | 'gid' | 'user' | 'group'>): {
  uid: number;
  gid: number;
} {
  const uid = (owner.user === undefined ? undefined : userId(owner.user)) ?? owner.uid;
  const gid = (owner.group === undefined ? undefined : groupId(owner.group)) ?? owner.gid;
  return { uid, gid };
}

/**
 * Writes one file and resolves to its path; the caller makes it durable (the restore worker syncs each file
 * behind its writes, and every sync ends before pg_control is written). Runs on a worker thread of its own, so
 * the destination is written with blocking calls (see storage/file-io.ts).
 */
export async function restoreFile(
  repo: Repository,
  file: ManifestFile,
  settings: RestoreFileSettings,
  progress?: WriteProgress,
): Promise<string> {
  try {
    return await writeFile(repo, file, settings, progress);
  } catch (error) {
    progress?.fail();
    throw error;
  }
}

/**
 * restoreFile's work. With `progress`, another thread hashes the file as it is written (verify-as-written.ts):
 * each write is reported once it returned, and this thread only checks the size.
 */
async function writeFile(
  repo: Repository,
  file: ManifestFile,
  settings: RestoreFileSettings,
  progress: WriteProgress | undefined,
): Promise<string> {
  const path = destinationOf(file.name, settings.targets);
  let fd: number;
  try {
    fd = openSync(path, 'w', 0o600);
  } catch (error) {
    throw new PgStashError('fileOpen', `unable to create '${path}': ${reasonOf(error)}`);
  }
  try {
    const source = repoFilePath(repo.stanza, settings.label, file, compressExtension(settings.compressType));
    const chunks = await repo.getChunks(
      source,
      progress === undefined
        ? { sha256: file.sha256, size: file.size, storedSize: file.repoSize }
        : { hashedByCaller: true, size: file.size, storedSize: file.repoSize },
    );
    if (chunks === undefined) {
      throw new PgStashError('fileMissing', `backup file '${repo.driver.location}/${source}' is missing`, {
        hint: 'the backup is damaged: restore another backup set with --set',
      });
    }
    let written = 0;
    progress?.report(written);
    for await (const chunk of chunks) {
      writeAll(fd, chunk, path);
      written += chunk.length;
      progress?.report(written);
    }
    try {
      // Explicit mode: the process umask must not change what PostgreSQL expects.
      fchmodSync(fd, file.mode);
      if (settings.restoreOwner) {
        const { uid, gid } = ownerIds(file);
        fchownSync(fd, uid, gid);
      }
      futimesSync(fd, file.mtime, file.mtime);
    } catch (error) {
      throw new PgStashError('fileWrite', `unable to write '${path}': ${reasonOf(error)}`);
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** Writes all of `data` with blocking calls (a short write leaves a remainder). */
function writeAll(fd: number, data: Buffer, path: string): void {
  try {
    for (let done = 0; done < data.length;) done += writeSync(fd, data, done, data.length - done);
  } catch (error) {
    throw new PgStashError('fileWrite', `unable to write '${path}': ${reasonOf(error)}`);
  }
}
