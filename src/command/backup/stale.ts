// Removes backup directories that no backup.info entry lists: leftovers of a backup killed mid-way.
import { log } from '../../common/log.js';
import type { BackupInfo } from '../../repo/backup-info.js';
import type { Repository } from '../../repo/repository.js';

/** Call only while holding the stanza's backup lock: then no other backup can be writing any of these. */
export async function removeStaleBackups(repo: Repository, info: BackupInfo): Promise<void> {
  for (const label of await repo.backups.incomplete(info)) {
    log.warn(`removing incomplete backup '${label}' from ${repo.name} (left by an interrupted backup)`);
    await repo.backups.remove(label);
  }
}
