// The restore lock: a lock file inside the data directory, so two restores into one directory never interleave.
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fail, reasonOf } from '../../common/errors.js';
import { acquireLockFile, isLockFileName, type Lock } from '../../common/lock.js';
import { RESTORE_LOCK_FILE } from '../../postgres/data-dir.js';

/**
 * Takes the restore lock of the data directory `pgPath` (made, 0700, if missing), or fails with lockAcquire (50)
 * naming the restore that holds it. Call it before the directory is looked at or written.
 *
 * The lock lives in the directory itself, not in lock-path: every restore into it takes the same lock, whatever
 * its stanza, configuration file, lock-path or user, and through any link to it. The emptiness check and --force
 * pass over it (isRestoreLockName), a backup never copies it, and the restore removes it once pg_control is in.
 * A restore killed with -9 leaves it: the next restore finds its process gone and takes it over (common/lock.ts).
 */
export async function lockRestoreDestination(pgPath: string): Promise<Lock> {
  try {
    await mkdir(pgPath, { recursive: true, mode: 0o700 });
  } catch (error) {
    fail('pathCreate', `unable to create data directory '${pgPath}': ${reasonOf(error)}`);
  }
  // A directory this user may not write in is not a lock held by someone (50): say what it is.
  try {
    await access(pgPath, constants.W_OK | constants.X_OK);
  } catch (error) {
    fail('access', `unable to restore into '${pgPath}': ${reasonOf(error)}`, {
      hint: "restore as the directory's owner (the cluster's OS user) or as root",
    });
  }
  return acquireLockFile(join(pgPath, RESTORE_LOCK_FILE), {
    heldHint: `another pgstash restore is writing into '${pgPath}': wait for it to finish`,
    invalidHint: `if no pgstash restore is writing into '${pgPath}', remove the file`,
  });
}

/** Whether a name in a restore's destination is the restore lock (or a name used while taking it). */
export function isRestoreLockName(name: string): boolean {
  return isLockFileName(name, RESTORE_LOCK_FILE);
}
