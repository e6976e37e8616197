// Where a restore writes: pg1-path and each tablespace's directory, checked to be safe to fill.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoOf, PgStashError, reasonOf } from '../../common/errors.js';
import { realOrResolved } from '../../common/real-path.js';
import type { Manifest, ManifestTarget } from '../../repo/manifest.js';
import { requireDataDirectory } from './delta-clean.js';
import { isRestoreLockName, type RestoreLocks } from './restore-lock.js';
import { unfinishedRestore } from './unfinished.js';

export interface ResolvedTarget {
  readonly target: ManifestTarget;
  /** Absolute directory this target restores into. */
  readonly path: string;
  /** The location was given (pg1-path, --tablespace-map, --tablespace-map-all), not taken from the backup. */
  readonly given: boolean;
}

/**
 * Resolves where each manifest target goes: pg_data to pg1-path; a tablespace to its --tablespace-map entry
 * (by name or oid), to `<tablespace-map-all>/<name>`, or else to its original location.
 */
export function resolveTargets(
  manifest: Manifest,
  pgPath: string,
  options: { tablespaceMap: Readonly<Record<string, string>>; tablespaceMapAll?: string | undefined },
): ResolvedTarget[] {
  const used = new Set<string>();
  const resolved = manifest.targets.map((target) => {
    if (target.name === 'pg_data') return { target, path: pgPath, given: true };
    const byName =
      target.tablespaceName === undefined ? undefined : options.tablespaceMap[target.tablespaceName];
    const byOid = options.tablespaceMap[String(target.tablespaceOid)];
    const mapped = byName ?? byOid;
    if (byName !== undefined && target.tablespaceName !== undefined) used.add(target.tablespaceName);
    if (byOid !== undefined) used.add(String(target.tablespaceOid));
    const all =
      options.tablespaceMapAll === undefined
        ? undefined
        : join(options.tablespaceMapAll, target.tablespaceName ?? String(target.tablespaceOid));
    const given = mapped ?? all;
    return { target, path: given ?? target.path, given: given !== undefined };
  });
  for (const key of Object.keys(options.tablespaceMap)) {
    if (!used.has(key)) {
      throw new PgStashError(
        'tablespaceMap',
        `tablespace '${key}' in 'tablespace-map' option is not in the backup`,
        {
          hint: `tablespaces in the backup: ${
            manifest.targets
              .filter((t) => t.name !== 'pg_data')
              .map((t) => `${t.tablespaceName ?? '?'} (oid ${t.tablespaceOid ?? '?'})`)
              .join(', ') || 'none'
          }`,
        },
      );
    }
  }
  for (const entry of resolved) {
    if (!entry.path.startsWith('/')) {
      throw new PgStashError(
        'tablespaceMap',
        `tablespace destination '${entry.path}' must be an absolute path`,
      );
    }
  }
  return resolved;
}

/** The names in a destination directory, but for this restore's lock (see restore-lock.ts). */
async function contentsOf(path: string): Promise<string[]> {
  return (await readdir(path)).filter((name) => !isRestoreLockName(name));
}

async function isEmptyOrMissing(path: string): Promise<boolean> {
  try {
    return (await contentsOf(path)).length === 0;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return true;
    throw new PgStashError('pathMissing', `unable to read directory '${path}': ${reasonOf(error)}`);
  }
}

/**
 * Refuses to restore over a running cluster (38) or into a non-empty directory (40) unless `force`. The caller
 * holds the restore lock of the data directory in `locks`; each tablespace directory's is taken here, before it is
 * looked at (restore-lock.ts).
 */
export async function prepareDestination(
  targets: readonly ResolvedTarget[],
  options: { force: boolean; locks: RestoreLocks; delta?: boolean },
): Promise<void> {
  const data = targets.find((entry) => entry.target.name === 'pg_data');
  const pgPath = data?.path ?? '';
  const pidFile = join(pgPath, 'postmaster.pid');
  if (existsSync(pidFile)) {
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0]);
    throw new PgStashError(
      'pgRunning',
      `unable to restore while PostgreSQL is running in '${pgPath}' (postmaster.pid, pid ${pid || '?'})`,
      {
        hint: 'stop PostgreSQL first; if it is not running, remove the stale postmaster.pid',
      },
    );
  }
  const original = data?.target.path;
  // The backed-up data directory itself (links resolved): its tablespaces are this restore's to overwrite.
  const inPlace =
    original !== undefined && (await realOrResolved(pgPath)) === (await realOrResolved(original));
  for (const entry of targets) {
    const { path } = entry;
    // A tablespace left at its backed-up location while the data directory goes elsewhere: that directory is
    // the backed-up cluster's, which may well be running. --force must not empty it unless the DBA names it.
    const theirs = !entry.given && !inPlace;
    // Locked before it is looked at, but for a directory of the backed-up cluster that is refused below anyway.
    if (entry !== data && !(theirs && !(await isEmptyOrMissing(path)))) await options.locks.take(path);
    if (await isEmptyOrMissing(path)) continue;
    // --delta keeps what it can of a non-empty directory (delta-clean.ts): the data directory must be one.
    if (options.delta === true && !theirs) {
      if (entry === data && !options.force) requireDataDirectory(path);
      continue;
    }
    const tablespace = entry.target.tablespaceName ?? String(entry.target.tablespaceOid);
    const unfinished = entry === data && !options.force ? await unfinishedRestore(path) : undefined;
    if (unfinished !== undefined) {
      throw new PgStashError(
        'pathNotEmpty',
        `unable to restore into '${path}': it holds a restore${unfinished.label === undefined ? '' : ` of backup set ${unfinished.label}`} that did not finish`,
        {
          hint: 'run the restore again with --delta to finish it (files already restored that match are kept), or with --force to start over',
        },
      );
    }
    if (!options.force || theirs) {
      throw new PgStashError(
        'pathNotEmpty',
        theirs
          ? `unable to restore tablespace '${tablespace}' into '${path}': the directory is not empty, and it is where the backed-up cluster (data directory '${original ?? '?'}') keeps that tablespace`
          : `unable to restore into '${path}': the directory is not empty`,
        {
          hint: theirs
            ? `map the tablespace to an empty directory with --tablespace-map=${tablespace}=<dir>; to overwrite this one, name it: --tablespace-map=${tablespace}=${path} --force`
            : 'restore into an empty directory, or use --force to remove its contents first',
        },
      );
    }
    for (const name of await contentsOf(path)) await rm(join(path, name), { recursive: true, force: true });
  }
  for (const { path } of targets) await mkdir(path, { recursive: true, mode: 0o700 });
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
