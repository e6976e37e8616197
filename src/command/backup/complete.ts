// Makes the backup valid and reports it (pgBackRest's backupComplete).
import { formatBytes } from '../../common/size.js';
import { log } from '../../common/log.js';
import type { BackupRecord } from '../../repo/backup-info.js';
import type { Manifest } from '../../repo/manifest.js';
import type { Repository } from '../../repo/repository.js';

/** How long the backup took, for the report. */
export interface BackupTimes {
  /** The whole command. */
  readonly totalMs: number;
  /** pg_backup_start: the server's checkpoint (a regular one without --start-fast can take minutes). */
  readonly checkpointMs: number;
  /** From pg_backup_start's return to pg_backup_stop's. */
  readonly copyMs: number;
  /** The wait for the backup's WAL to reach the archive, when there was one. */
  readonly walWaitMs: number | undefined;
}

/**
 * `41.2 s (checkpoint 0.2 s, copy 18.6 s, WAL wait 22.1 s)`: the whole command's time, then the checkpoint
 * pg_backup_start waited for, the copy (to pg_backup_stop) and the wait for the backup's WAL to reach the
 * archive, which can take longer than the copy.
 */
export function formatDurations(times: BackupTimes): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const parts = [`checkpoint ${seconds(times.checkpointMs)}`, `copy ${seconds(times.copyMs)}`];
  if (times.walWaitMs !== undefined) parts.push(`WAL wait ${seconds(times.walWaitMs)}`);
  return `${seconds(times.totalMs)} (${parts.join(', ')})`;
}

/**
 * Writes the backup's history manifest, commits the backup (every file durable, the manifest, then backup.info: only
 * then does it exist for info and restore), then prints the report line and warns about invalid page checksums.
 */
export async function backupComplete(
  repo: Repository,
  manifest: Manifest,
  record: BackupRecord,
  report: { out: (text: string) => void; times: () => BackupTimes },
): Promise<void> {
  // The history copy first, as pgBackRest does: a backup listed always has one (a failure here fails the backup).
  await repo.backups.history.write(manifest);
  await repo.backups.commit(manifest, record);
  const { label } = record;
  report.out(
    `backup ${label} complete in ${formatDurations(report.times())}: ${record.fileCount} files, ${formatBytes(record.size)} (${formatBytes(record.repoSize)} in ${repo.name}), WAL ${record.walStart} to ${record.walStop}\n`,
  );
  if (record.pageChecksumErrors > 0) {
    log.warn(
      `backup ${label} found ${record.pageChecksumErrors} invalid page checksums: see 'pgstash info --set=${label}'`,
    );
  }
}
