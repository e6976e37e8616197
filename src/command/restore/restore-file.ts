// Restores one backup file into place, verified against the manifest, with its mode, owner and mtime.
import { fchmodSync, fchownSync, futimesSync } from 'node:fs';
import { isPgStashError, PgStashError, reasonOf } from '../../common/errors.js';
import { groupId, userId } from '../../common/os-users.js';
import type { ChunkStage } from '../../io/stage.js';
import type { ManifestFile, ManifestOwner } from '../../repo/manifest.js';
import type { Repository } from '../../repo/repository.js';
import { DirectFileWriter } from '../../storage/direct-file.js';
import type { DeltaCompare } from './delta-file.js';
import { destinationOf, type ResolvedTarget } from './destination.js';

/** What every file of one restore shares (how each file is stored is its own: ManifestFile.stored). */
export interface RestoreFileSettings {
  readonly targets: readonly ResolvedTarget[];
  /** Running as root: give files the owner recorded in the manifest. */
  readonly restoreOwner: boolean;
  /** restore --delta: a file already in place that matches stays (delta-file.ts). */
  readonly delta?: DeltaCompare | undefined;
  /** When the backup started (epoch seconds): --delta --force trusts only an mtime before it. */
  readonly backupStart?: number | undefined;
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
 * Files at least this large are written with direct I/O (storage/direct-file.ts): past the page cache, which a
 * restore fills for nothing. Smaller ones go through it and are synced behind their writes, many at once.
 */
export const DIRECT_WRITE_BYTES = 8 * 1024 * 1024;

/**
 * Writes one file and resolves to its path; the caller makes it durable (the restore worker syncs each file
 * behind its writes, and every sync ends before pg_control is written). Runs on a worker thread of its own, so
 * the destination is written with blocking calls (see storage/file-io.ts), except for direct writes, two of
 * which run on libuv's pool while the next data is decompressed.
 */
export async function restoreFile(
  repo: Repository,
  file: ManifestFile,
  settings: RestoreFileSettings,
  /** Sees every chunk written (the restore's progress counter). */
  progress?: ChunkStage,
  /** The file's original bytes when the caller reads them (a bundle read forward: BackupStore.readBundle). */
  read?: AsyncGenerator<Buffer>,
): Promise<string> {
  const path = destinationOf(file.name, settings.targets);
  const writer = openDestination(path, file.size);
  try {
    // Where and how the file is stored is its own: in the backup holding it, with that backup's compression.
    // What is written is checked (each block against its map, the whole file against the manifest), so a
    // block-stored file's parts are not hashed whole as well: most of a chain's parts are blocks replaced since.
    const chunks = read ?? (await repo.backups.requireFile(file, { checkParts: false }));
    try {
      for await (const chunk of chunks) {
        await writer.write(chunk);
        progress?.update(chunk);
      }
      await writer.finish();
      // Explicit mode: the process umask must not change what PostgreSQL expects.
      fchmodSync(writer.fd, file.mode);
      if (settings.restoreOwner) {
        const { uid, gid } = ownerIds(file);
        fchownSync(writer.fd, uid, gid);
      }
      futimesSync(writer.fd, file.mtime, file.mtime);
    } catch (error) {
      if (isPgStashError(error)) throw error;
      throw new PgStashError('fileWrite', `unable to write '${path}': ${reasonOf(error)}`);
    }
  } finally {
    await writer.close();
  }
  return path;
}

/** Direct I/O for a large file; a small one is written with blocking calls through the page cache. */
function openDestination(path: string, size: number): DirectFileWriter {
  try {
    return DirectFileWriter.create(path, 0o600, { direct: size >= DIRECT_WRITE_BYTES });
  } catch (error) {
    throw new PgStashError('fileOpen', `unable to create '${path}': ${reasonOf(error)}`);
  }
}
