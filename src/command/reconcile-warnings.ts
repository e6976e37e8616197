// The warnings of BackupStore.reconcile, the same for backup and expire: complete backups backup.info did not list.
import { log } from '../common/log.js';

/** Warns of each backup reconcile added back (`dryRun`: would add) and of each complete one it had to leave as is. */
export function warnReconciled(
  repoName: string,
  result: { readonly added: readonly string[]; readonly kept: readonly string[] },
  dryRun = false,
): void {
  for (const label of result.added)
    log.warn(
      `${repoName}: backup ${label} is complete but was not in backup.info: added back${dryRun ? ' (dry-run)' : ''}`,
    );
  for (const label of result.kept)
    log.warn(
      `${repoName}: backup ${label} is complete but cannot be added to backup.info (another cluster's, or a backup ` +
        'it references is gone): left as it is',
    );
}
