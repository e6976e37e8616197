// What a restore checks in the archive before it writes anything: the backup's WAL, the timeline recovery will
// follow, and whether the restored copy would archive into this stanza. Each only warns: the restore goes on.
import { isPgStashError, messageOf } from '../../common/errors.js';
import { log } from '../../common/log.js';
import type { LoadedConfig } from '../../config/load.js';
import type { BackupRecord } from '../../repo/backup-info.js';
import type { DbHistory } from '../../repo/db-history.js';
import type { Manifest } from '../../repo/manifest.js';
import { idsOfCurrentCluster } from '../../repo/wal-archive.js';
import { openRepositories, type Repository } from '../../repo/repository.js';
import { backupWalSegmentSize, describeSegments, missingBackupWal } from '../archive/backup-wal.js';
import { selectedRepos } from '../repo-select.js';
import { warnIfCopyWouldArchiveHere } from './copy-warning.js';
import { checkRestoreTimeline } from './timeline-check.js';

/**
 * Runs the archive checks for restoring `backup` into `pgPath`; returns the line saying which timeline recovery
 * follows. A check that cannot read what it needs only warns: it must not stand between a DBA and a restore.
 */
export async function checkArchiveBeforeRestore(
  config: LoadedConfig,
  { repo, history }: { repo: Repository; history: DbHistory },
  backup: BackupRecord,
  manifest: Manifest,
  restore: { pgPath: string; type: string; archiveMode: 'preserve' | 'off' },
): Promise<string> {
  const unchecked = (what: string) => (error: unknown) => {
    if (!isPgStashError(error)) throw error;
    log.warn(`unable to check ${what}: ${messageOf(error)}`);
    return undefined;
  };
  let segmentSize: Promise<number> | undefined;
  const walSegmentSize = (): Promise<number> => (segmentSize ??= backupWalSegmentSize(repo, manifest));
  // restore_command's archive-get looks in every selected repository: a segment is missing only from them all. The
  // repository restored from is the one already open (its key looked up once), its archive ids those of the
  // backup.info it was chosen from (a request fewer than archive.info's); each other one's archive.info is read once
  // for both checks.
  const repos = await openRepositories(selectedRepos(config), repo.stanza, repo);
  const idsRead = new Map<Repository, Promise<string[]>>();
  const archiveIds = (each: Repository): Promise<string[]> => {
    let ids = idsRead.get(each);
    if (ids === undefined) {
      ids = each === repo ? Promise.resolve(idsOfCurrentCluster(history)) : each.wal.clusterIdsIfAny();
      // Each caller handles the failure; none is left unhandled meanwhile.
      ids.catch(() => undefined);
      idsRead.set(each, ids);
    }
    return ids;
  };
  let missing: string[] | undefined;
  for (const each of repos) {
    const what = `the WAL of backup set ${backup.label} in the ${each.name} archive`;
    const ids = await archiveIds(each).catch(unchecked(what));
    const inRepo =
      ids === undefined
        ? undefined
        : await missingBackupWal(each, ids, backup, { segmentSize: walSegmentSize }).catch(unchecked(what));
    // A repository that could not be checked may hold the WAL: no claim that it is missing.
    missing = inRepo === undefined ? [] : (missing ?? inRepo).filter((name) => inRepo.includes(name));
  }
  if (missing !== undefined && missing.length > 0) {
    log.warn(
      `WAL that backup set ${backup.label} needs to reach consistency is not in the archive (${repos.map((each) => each.name).join(', ')}): ` +
        `${describeSegments(missing)}; PostgreSQL cannot reach a consistent state ` +
        `from this restore without it and will not start (FATAL)` +
        `\nHINT: put the missing segments into pg_wal of the restored directory before starting it, or restore another backup set with --set`,
    );
  }
  await warnIfCopyWouldArchiveHere(config, repo.stanza, restore, manifest);
  const timeline = await checkRestoreTimeline(
    repos,
    { label: backup.label, timeline: manifest.backup.timeline, lsnStart: backup.lsnStart },
    { targetTimeline: config.get('target-timeline'), type: restore.type },
    walSegmentSize,
    archiveIds,
  ).catch(unchecked('the timelines in the archive'));
  return (
    timeline ?? "recovery follows the timeline PostgreSQL chooses (the archive's timelines could not be read)"
  );
}
