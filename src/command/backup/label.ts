// The new backup's label (pgBackRest's backupLabelCreate): from its start time, never one already used.
import { setTimeout as sleep } from 'node:timers/promises';
import type { BackupInfo, BackupType } from '../../repo/backup-info.js';
import { backupLabel } from '../../repo/label.js';
import type { Repository } from '../../repo/repository.js';

/**
 * A label for a backup of `type` starting now, and that start time. Labels have one-second resolution: when the
 * label is listed in `info` or its directory exists (a backup that just finished, or a leftover), this waits
 * for the next second.
 */
export async function createLabel(
  repo: Repository,
  type: BackupType,
  info: BackupInfo,
  prior?: string,
): Promise<{ label: string; started: Date }> {
  let started = new Date();
  let label = backupLabel(type, started, prior);
  while (info.backups.some((entry) => entry.label === label) || (await repo.backups.hasDirectory(label))) {
    await sleep(1000 - (Date.now() % 1000));
    started = new Date();
    label = backupLabel(type, started, prior);
  }
  return { label, started };
}
