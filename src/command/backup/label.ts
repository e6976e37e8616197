// The new backup's label (pgBackRest's backupLabelCreate): from its start time, never one already used.
import { setTimeout as sleep } from 'node:timers/promises';
import type { BackupInfo, BackupType } from '../../repo/backup-info.js';
import { backupLabel } from '../../repo/label.js';
import type { Repository } from '../../repo/repository.js';

/**
 * A label for a backup of `type` starting at the next whole second, and that start time. Starting on a second
 * boundary is what lets the next diff or incr trust mtimes (prior-reuse.ts): every file modified before the
 * start has an mtime below the start second, and a write after it, even one in the second a file was copied,
 * has an mtime at or above it. Without the wait, files written in the second before the backup began (a cluster
 * just restored or created) would all be copied again by the next incr. pgBackRest waits the same way.
 * Labels have one-second resolution: when the label is listed in `info` or its directory exists (a backup that
 * just finished, or a leftover), this waits for the next second again.
 */
export async function createLabel(
  repo: Repository,
  type: BackupType,
  info: BackupInfo,
  prior?: string,
): Promise<{ label: string; started: Date }> {
  let started = await nextWholeSecond();
  let label = backupLabel(type, started, prior);
  while (info.backups.some((entry) => entry.label === label) || (await repo.backups.hasDirectory(label))) {
    started = await nextWholeSecond();
    label = backupLabel(type, started, prior);
  }
  return { label, started };
}

/** Waits for the next whole second (the timer may fire early by a millisecond: then waits again). */
async function nextWholeSecond(): Promise<Date> {
  const target = (Math.floor(Date.now() / 1000) + 1) * 1000;
  while (Date.now() < target) await sleep(target - Date.now());
  return new Date(target);
}
