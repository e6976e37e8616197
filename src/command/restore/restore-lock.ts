// The restore lock: a lock file inside each directory a restore fills, so two restores into one never interleave.
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fail, reasonOf } from '../../common/errors.js';
import { acquireLockFile, isLockFileName, type Lock } from '../../common/lock.js';
import { RESTORE_LOCK_FILE } from '../../postgres/data-dir.js';

/**
 * The restore locks one restore holds: its data directory's, then each tablespace directory's (see
 * prepareDestination), released together once pg_control is in. Should the restore fail, they go when the process
 * exits (Lock's exit handler).
 *
 * A lock lives in the directory itself, not in lock-path: every restore into it takes the same lock, whatever its
 * stanza, configuration file, lock-path or user, and through any link to it. The emptiness check and --force pass
 * over it (isRestoreLockName), and a backup never copies it. A restore killed with -9 leaves it: the next restore
 * finds its process gone and takes it over (common/lock.ts).
 */
export class RestoreLocks {
  readonly #held = new Map<string, Lock>();

  /**
   * Takes the restore lock of `dir` (made, 0700, if missing), or fails with lockAcquire (50) naming the restore
   * that holds it. Call it before the directory is looked at or written.
   */
  async take(dir: string): Promise<void> {
    const key = resolve(dir);
    if (this.#held.has(key)) return;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      fail('pathCreate', `unable to create directory '${dir}': ${reasonOf(error)}`);
    }
    // A directory this user may not write in is not a lock held by someone (50): say what it is.
    try {
      await access(dir, constants.W_OK | constants.X_OK);
    } catch (error) {
      fail('access', `unable to restore into '${dir}': ${reasonOf(error)}`, {
        hint: "restore as the directory's owner (the cluster's OS user) or as root",
      });
    }
    const lock = await acquireLockFile(join(dir, RESTORE_LOCK_FILE), {
      heldHint: `another pgstash restore is writing into '${dir}': wait for it to finish`,
      invalidHint: `if no pgstash restore is writing into '${dir}', remove the file`,
    });
    this.#held.set(key, lock);
  }

  /** Releases every lock taken, the last first. */
  async release(): Promise<void> {
    for (const lock of [...this.#held.values()].reverse()) await lock.release();
    this.#held.clear();
  }
}

/** Takes the restore lock of the data directory `pgPath` (see RestoreLocks): the first lock of a restore. */
export async function lockRestoreDestination(pgPath: string): Promise<RestoreLocks> {
  const locks = new RestoreLocks();
  await locks.take(pgPath);
  return locks;
}

/** Whether a name in a restore's destination is the restore lock (or a name used while taking it). */
export function isRestoreLockName(name: string): boolean {
  return isLockFileName(name, RESTORE_LOCK_FILE);
}
