// Before a restore writes anything: every backup holding files of the chosen one (a diff or incr's references)
// is still in the repository.
import { PgStashError } from '../../common/errors.js';
import { holdersOf, type Manifest } from '../../repo/manifest.js';
import type { Repository } from '../../repo/repository.js';

/**
 * Refuses (75, naming the missing backup) a backup whose files are held by a backup whose directory is gone (removed
 * by hand): the restore would fail half-way. Each holder is checked, not only the listed references.
 */
export async function checkHoldersPresent(repo: Repository, manifest: Manifest): Promise<void> {
  const label = manifest.backup.label;
  const holders = new Set([...manifest.backup.references, ...manifest.files.flatMap(holdersOf)]);
  holders.delete(label);
  for (const holder of [...holders].sort()) {
    if (!(await repo.backups.hasDirectory(holder))) {
      throw new PgStashError(
        'backupSetInvalid',
        `backup set ${label} depends on backup ${holder}, which is missing from ${repo.name}`,
        { hint: 'restore another backup set with --set (one that does not depend on it)' },
      );
    }
  }
}
