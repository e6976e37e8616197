// Read markers: a restore marks, in lock-path, that it is reading a stanza's backups, so expire keeps the files.
//
// Restore takes no stanza lock (it may run while a backup does). Each restore writes its own marker,
// `<stanza>-restore-<token>.lock` (the lock file format of lock.ts: pid, start time, host), before it reads
// backup.info, and removes it when it ends (a killed one leaves a stale marker, which counts for nothing). Expire
// removes a backup's backup.info entry first and only then looks for live markers: a restore that marked before that
// look may be reading the backup, and its files stay (the next expire removes them); a restore that marks after it
// reads a backup.info that no longer lists the backup. Only restores on this host with this lock-path are seen.
import { randomBytes } from 'node:crypto';
import { access, constants, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireLockFile, isHeld, type Lock } from './lock.js';

const markerName = (stanza: string, token: string): string => `${stanza}-restore-${token}.lock`;
const isMarkerOf = (name: string, stanza: string): boolean =>
  name.startsWith(`${stanza}-restore-`) && /^[0-9a-f]{16}\.lock$/.test(name.slice(stanza.length + 9));

/**
 * Marks that a restore of `stanza` is reading its backups; undefined when lock-path does not exist or cannot be
 * written (a restore never creates it: it may run as root, and lock-path must stay the backup user's).
 */
export async function markRestoreReading(lockPath: string, stanza: string): Promise<Lock | undefined> {
  try {
    await access(lockPath, constants.W_OK | constants.X_OK);
  } catch {
    return undefined;
  }
  return acquireLockFile(join(lockPath, markerName(stanza, randomBytes(8).toString('hex'))), {
    heldHint: 'a restore marker with this random name exists: try again',
    invalidHint: 'remove the file',
  });
}

/** How many restores of `stanza` (on this host, with this lock-path) are reading its backups now. */
export async function restoresReading(lockPath: string, stanza: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(lockPath);
  } catch {
    return 0;
  }
  let live = 0;
  for (const name of names) if (isMarkerOf(name, stanza) && (await isHeld(join(lockPath, name)))) live++;
  return live;
}
