// What a restore checks in the archive before it writes anything: the backup's WAL, the timeline recovery will
// follow, and whether the restored copy would archive into this stanza. Each only warns: the restore goes on.
import { log } from '../../common/log.js';
import type { LoadedConfig } from '../../config/load.js';
import type { BackupRecord } from '../../repo/backup-info.js';
import type { Manifest } from '../../repo/manifest.js';
import type { Repository } from '../../repo/repository.js';
import { backupWalSegmentSize, describeSegments, missingBackupWal } from '../archive/backup-wal.js';
import { currentClusterArchiveIds } from '../archive/timelines.js';
import { warnIfCopyWouldArchiveHere } from './copy-warning.js';
import { checkRestoreTimeline } from './timeline-check.js';

/** Runs the archive checks for restoring `backup` into `pgPath`; returns the line saying which timeline recovery follows. */
export async function checkArchiveBeforeRestore(
  config: LoadedConfig,
  repo: Repository,
  backup: BackupRecord,
  manifest: Manifest,
  pgPath: string,
): Promise<string> {
  let segmentSize: Promise<number> | undefined;
  const walSegmentSize = (): Promise<number> => (segmentSize ??= backupWalSegmentSize(repo, manifest));
  const ids = await currentClusterArchiveIds(repo);
  const missing = await missingBackupWal(repo, ids, backup, { segmentSize: walSegmentSize });
  if (missing.length > 0) {
    log.warn(
      `WAL that backup set ${backup.label} needs to reach consistency is not in the ${repo.name} archive: ` +
        `${describeSegments(missing)}; PostgreSQL cannot reach a consistent state ` +
        `from this restore without it and will not start (FATAL)` +
        `\nHINT: put the missing segments into pg_wal of the restored directory before starting it, or restore another backup set with --set`,
    );
  }
  await warnIfCopyWouldArchiveHere(config, repo.stanza, pgPath, manifest);
  return checkRestoreTimeline(
    repo,
    { label: backup.label, timeline: manifest.backup.timeline, lsnStart: backup.lsnStart },
    config.str('target-timeline'),
    walSegmentSize,
  );
}
