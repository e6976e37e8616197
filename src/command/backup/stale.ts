// Removes backup directories that no backup.info entry lists: leftovers of a backup killed mid-way.
import { log } from '../../common/log.js';
import type { BackupInfo } from '../../repo/backup-info.js';
import { isBackupLabel } from '../../repo/label.js';
import { repoLayout } from '../../repo/layout.js';
import type { Repository } from '../../repo/repository.js';

/** Call only while holding the stanza's backup lock: then no other backup can be writing any of these. */
export async function removeStaleBackups(repo: Repository, info: BackupInfo): Promise<void> {
  const known = new Set(info.backups.map((backup) => backup.label));
  const root = repoLayout.backupStanza(repo.stanza);
  for await (const entry of repo.driver.list(root)) {
    if (entry.type === 'path' && isBackupLabel(entry.name) && !known.has(entry.name)) {
      log.warn(
        `removing incomplete backup '${entry.name}' from ${repo.name} (left by an interrupted backup)`,
      );
      await repo.driver.removeTree(`${root}/${entry.name}`);
    }
  }
}
