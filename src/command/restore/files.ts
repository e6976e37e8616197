// Restores a backup's paths, tablespace links and files in parallel, verifying every file, pg_control last.
import { createWriteStream } from 'node:fs';
import { chown, lchown, mkdir, open, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PgStashError, reasonOf } from '../../common/errors.js';
import { groupId, userId } from '../../common/os-users.js';
import { compressExtension, type CompressType } from '../../io/compress.js';
import { runParallel } from '../../io/parallel.js';
import { repoFilePath, type Manifest, type ManifestFile, type ManifestOwner } from '../../repo/manifest.js';
import type { Repository } from '../../repo/repository.js';
import { throwIfAborted } from '../context.js';
import type { ResolvedTarget } from './destination.js';

/** The control file goes in last: until it exists, a half-restored directory cannot be started by mistake. */
const CONTROL_FILE = 'pg_data/global/pg_control';

/**
 * Backup files a restore leaves out. tablespace_map names each tablespace's location on the backed-up host, and
 * PostgreSQL recreates the pg_tblspc links from it when recovery starts: with --tablespace-map that would point
 * the restored cluster back at the original (perhaps live) tablespace directories. The restore makes the links
 * itself, so, as pg_basebackup's plain format, it goes without the file.
 */
export const NOT_RESTORED: ReadonlySet<string> = new Set(['pg_data/tablespace_map']);

export interface RestoreFilesOptions {
  readonly processMax: number;
  readonly signal: AbortSignal;
  /** Running as root: give files the owner recorded in the manifest. */
  readonly restoreOwner: boolean;
}

/** Maps a manifest name ('pg_data/base/1/2', 'pg_tblspc/16385/PG_15_x/...') to its absolute destination. */
export function destinationOf(name: string, targets: readonly ResolvedTarget[]): string {
  let best: ResolvedTarget | undefined;
  for (const entry of targets) {
    const prefix = entry.target.name;
    if (
      (name === prefix || name.startsWith(`${prefix}/`)) &&
      (best === undefined || prefix.length > best.target.name.length)
    ) {
      best = entry;
    }
  }
  if (best === undefined) throw new PgStashError('format', `manifest entry '${name}' belongs to no target`);
  return join(best.path, name.slice(best.target.name.length));
}

function ownerIds(owner: Pick<ManifestOwner, 'uid' | 'gid' | 'user' | 'group'>): {
  uid: number;
  gid: number;
} {
  const uid = (owner.user === undefined ? undefined : userId(owner.user)) ?? owner.uid;
  const gid = (owner.group === undefined ? undefined : groupId(owner.group)) ?? owner.gid;
  return { uid, gid };
}

async function restoreFile(
  repo: Repository,
  manifest: Manifest,
  file: ManifestFile,
  targets: readonly ResolvedTarget[],
  options: RestoreFilesOptions,
): Promise<void> {
  throwIfAborted(options.signal);
  const path = destinationOf(file.name, targets);
  const handle = await open(path, 'w', 0o600).catch((error: unknown) => {
    throw new PgStashError('fileOpen', `unable to create '${path}': ${reasonOf(error)}`);
  });
  try {
    const stream = createWriteStream('', { fd: handle.fd, autoClose: false, highWaterMark: 1024 * 1024 });
    const extension = compressExtension(manifest.backup.compressType as CompressType);
    const source = repoFilePath(repo.stanza, manifest.backup.label, file, extension);
    const found = await repo.get(source, stream, { sha256: file.sha256, size: file.size });
    if (!found) {
      throw new PgStashError('fileMissing', `backup file '${repo.driver.location}/${source}' is missing`, {
        hint: 'the backup is damaged: restore another backup set with --set',
      });
    }
    await handle.sync();
    // Explicit mode: the process umask must not change what PostgreSQL expects.
    await handle.chmod(file.mode);
    if (options.restoreOwner) {
      const { uid, gid } = ownerIds(file);
      await handle.chown(uid, gid);
    }
    await handle.utimes(file.mtime, file.mtime);
  } finally {
    await handle.close();
  }
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  await handle.sync().finally(() => handle.close());
}

export async function restoreTree(
  repo: Repository,
  manifest: Manifest,
  targets: readonly ResolvedTarget[],
  options: RestoreFilesOptions,
): Promise<void> {
  const tablespaceLinks = new Map(
    targets
      .filter((entry) => entry.target.name !== 'pg_data')
      .map((entry) => [`pg_data/pg_tblspc/${entry.target.tablespaceOid}`, entry.path]),
  );
  // Paths first (parents before children: the manifest lists them in walk order), then tablespace links.
  const directories: string[] = [];
  for (const entry of manifest.paths) {
    if (tablespaceLinks.has(entry.name)) continue;
    const path = destinationOf(entry.name, targets);
    await mkdir(path, { recursive: true, mode: 0o700 });
    directories.push(path);
  }
  for (const link of manifest.links) {
    const destination = tablespaceLinks.get(link.name);
    // Other links (a linked pg_wal, say) are restored as plain directories and files, as pgBackRest does.
    if (destination === undefined) continue;
    const path = destinationOf(link.name, targets);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await symlink(destination, path);
    if (options.restoreOwner) {
      const { uid, gid } = ownerIds(link);
      await lchown(path, uid, gid);
    }
  }
  const controlFile = manifest.files.find((file) => file.name === CONTROL_FILE);
  const files = manifest.files.filter((file) => file !== controlFile && !NOT_RESTORED.has(file.name));
  await runParallel(files, {
    concurrency: options.processMax,
    worker: (file) => restoreFile(repo, manifest, file, targets, options),
  });
  if (controlFile === undefined) {
    throw new PgStashError('fileMissing', `backup ${manifest.backup.label} has no global/pg_control`);
  }
  // Directory modes and owners after their contents exist; then everything is durable before pg_control lands.
  for (const entry of manifest.paths) {
    if (tablespaceLinks.has(entry.name)) continue;
    const path = destinationOf(entry.name, targets);
    const handle = await open(path, 'r');
    try {
      await handle.chmod(entry.mode);
      if (options.restoreOwner) {
        const { uid, gid } = ownerIds(entry);
        await chown(path, uid, gid);
      }
    } finally {
      await handle.close();
    }
  }
  for (const path of directories.reverse()) await syncDirectory(path);
  await restoreFile(repo, manifest, controlFile, targets, options);
  await syncDirectory(dirname(destinationOf(CONTROL_FILE, targets)));
}
