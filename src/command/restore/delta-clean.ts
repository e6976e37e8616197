// restore --delta, before any file is written: pg_control out first, then whatever the backup does not hold removed.
import { existsSync, type Dirent } from 'node:fs';
import { readdir, readlink, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errnoOf, PgStashError, reasonOf } from '../../common/errors.js';
import { log } from '../../common/log.js';
import type { Manifest } from '../../repo/manifest.js';
import { destinationOf, type ResolvedTarget } from './destination.js';
import { CONTROL_FILE, NOT_RESTORED } from './files.js';
import { isRestoreLockName } from './restore-lock.js';
import { RESTORE_UNFINISHED_FILE } from '../../postgres/data-dir.js';
import { syncPath } from '../../storage/file-io.js';

/**
 * What --delta requires of a non-empty data directory without --force: it must look like a PostgreSQL data
 * directory (PG_VERSION, the backup_manifest a restore writes, or the marker of a restore that did not finish:
 * unfinished.ts), as pgBackRest requires PG_VERSION or its backup.manifest. A mistyped pg1-path must not have its
 * contents removed as "not in the backup".
 */
export function requireDataDirectory(path: string): void {
  if (['PG_VERSION', 'backup_manifest', RESTORE_UNFINISHED_FILE].some((name) => existsSync(join(path, name))))
    return;
  throw new PgStashError(
    'pathNotEmpty',
    `unable to restore with --delta into '${path}': it is not empty and has no PG_VERSION or backup_manifest, so it is not a PostgreSQL data directory`,
    { hint: 'check pg1-path; to replace what the directory holds anyway, add --force' },
  );
}

/** What the backup has at a name: a directory, a file, or a tablespace link to a destination. */
type Expected = { kind: 'directory' } | { kind: 'file' } | { kind: 'link'; destination: string };

/** Every name the restore will make, and what it makes there. */
function expectedEntries(manifest: Manifest, targets: readonly ResolvedTarget[]): Map<string, Expected> {
  const expected = new Map<string, Expected>();
  const links = new Map(
    targets
      .filter((entry) => entry.target.name !== 'pg_data')
      .map((entry) => [`pg_data/pg_tblspc/${entry.target.tablespaceOid}`, entry.path]),
  );
  for (const path of manifest.paths) expected.set(path.name, { kind: 'directory' });
  // Other links (a linked pg_wal) are restored as directories (files.ts), tablespace links as links.
  for (const link of manifest.links) {
    const destination = links.get(link.name);
    if (destination !== undefined) expected.set(link.name, { kind: 'link', destination });
    else if (!expected.has(link.name)) expected.set(link.name, { kind: 'directory' });
  }
  for (const file of manifest.files) {
    if (!NOT_RESTORED.has(file.name)) expected.set(file.name, { kind: 'file' });
  }
  return expected;
}

async function removeEntry(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch (error) {
    throw new PgStashError('fileWrite', `unable to remove '${path}': ${reasonOf(error)}`);
  }
}

/**
 * Makes a data directory holding an older or damaged copy of the cluster ready for restore --delta:
 * 1. global/pg_control goes first, durably: from then on, until the restore writes it last, the directory cannot be
 *    started (PostgreSQL refuses a data directory without pg_control), so an interrupted delta restore never passes
 *    for a whole one, as an interrupted restore into an empty directory never does;
 * 2. every entry the backup does not have at that name and of that kind is removed: added files, directories and
 *    links, a directory where a file belongs and the reverse, a tablespace link pointing elsewhere, any symlink
 *    where a file belongs (a restore must never write through one), WAL, backup_manifest and signal files (the
 *    restore writes its own). In a tablespace directory only the backup's own entries (PG_<version>_<catalog>) are
 *    looked into: another version's directory beside it is another cluster's.
 * Files that stay are compared (or rewritten) by the workers. Returns how many entries were removed.
 */
export async function cleanForDelta(manifest: Manifest, targets: readonly ResolvedTarget[]): Promise<number> {
  const control = destinationOf(CONTROL_FILE, targets);
  try {
    await rm(control, { recursive: true });
    await syncPath(dirname(control), false);
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') {
      throw new PgStashError('fileWrite', `unable to remove '${control}': ${reasonOf(error)}`);
    }
  }
  const expected = expectedEntries(manifest, targets);
  let removed = 0;
  const walk = async (dir: string, name: string, top: boolean, tablespace: boolean): Promise<void> => {
    let entries: Dirent[];
    try {
      // The kinds come with the names (d_type; Node lstats only where the file system gives none): one lstat per
      // entry, a round trip each through libuv's pool, made the walk of a data directory of thousands of files cost
      // as much as comparing them.
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return;
      throw new PgStashError('fileRead', `unable to read directory '${dir}': ${reasonOf(error)}`);
    }
    let changed = false;
    for (const entry of entries) {
      // The lock, and the marker of this restore (unfinished.ts): until pg_control is in, it says what this is.
      if (top && (isRestoreLockName(entry.name) || entry.name === RESTORE_UNFINISHED_FILE)) continue;
      const path = join(dir, entry.name);
      const childName = `${name}/${entry.name}`;
      const want = expected.get(childName);
      if (want === undefined && top && tablespace) continue;
      let keep = false;
      if (want?.kind === 'directory') keep = entry.isDirectory();
      else if (want?.kind === 'file') keep = entry.isFile();
      else if (want?.kind === 'link')
        keep = entry.isSymbolicLink() && (await readlink(path)) === want.destination;
      if (!keep) {
        // As pgBackRest does at detail level: a DBA can see what a delta restore took away, and why.
        log.detail(
          want === undefined
            ? `remove '${path}': not in the backup`
            : `remove '${path}': the backup has a ${want.kind} there`,
        );
        await removeEntry(path);
        removed += 1;
        changed = true;
      } else if (want?.kind === 'directory') await walk(path, childName, false, tablespace);
    }
    if (changed) await syncPath(dir, false);
  };
  for (const entry of targets)
    await walk(entry.path, entry.target.name, true, entry.target.name !== 'pg_data');
  return removed;
}
