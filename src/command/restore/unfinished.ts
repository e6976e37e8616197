// The unfinished-restore marker: says a directory holds a restore that did not finish, so --delta may finish it.
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoOf, PgStashError, reasonOf } from '../../common/errors.js';
import { RESTORE_UNFINISHED_FILE } from '../../postgres/data-dir.js';
import { syncPath } from '../../storage/file-io.js';

/**
 * Marks the data directory `pgPath` as holding a restore of `label` in progress, durably, before the restore writes
 * or removes anything in it. A restore killed, or failed, from then on leaves the marker beside the files it wrote
 * (and no pg_control: the directory cannot be started); restore --delta accepts such a directory as a data
 * directory, as pgBackRest accepts the backup.manifest it leaves there, and finishes it.
 */
export async function markUnfinished(pgPath: string, label: string): Promise<void> {
  const path = join(pgPath, RESTORE_UNFINISHED_FILE);
  try {
    // One a restore run as another user left (root's, mode 600) is replaced, not written through: the directory is
    // this restore's to write in (the restore lock says so), the file may not be.
    await rm(path, { force: true });
    const handle = await open(path, 'wx', 0o600);
    try {
      await handle.writeFile(`${label}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await syncPath(pgPath, false);
  } catch (error) {
    throw new PgStashError('fileWrite', `unable to write '${path}': ${reasonOf(error)}`);
  }
}

/** Removes the marker once pg_control is in: the restore is whole. */
export async function clearUnfinished(pgPath: string): Promise<void> {
  const path = join(pgPath, RESTORE_UNFINISHED_FILE);
  try {
    await rm(path, { force: true });
    await syncPath(pgPath, false);
  } catch (error) {
    throw new PgStashError('fileWrite', `unable to remove '${path}': ${reasonOf(error)}`);
  }
}

/**
 * Whether a restore that did not finish left its marker in `pgPath` (undefined: none did), with its backup set when
 * the marker says (a restore killed between creating the marker and writing it leaves it empty).
 */
export async function unfinishedRestore(pgPath: string): Promise<{ label: string | undefined } | undefined> {
  try {
    const label = (await readFile(join(pgPath, RESTORE_UNFINISHED_FILE), 'utf8')).trim();
    return { label: label === '' ? undefined : label };
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return undefined;
    // Unreadable to this user, or not a file: a marker all the same.
    return { label: undefined };
  }
}
