// Expires one repository of a stanza: the backups the retention policy no longer keeps, the history manifests older
// than repo-retention-history, then the WAL no retained backup needs. Run by `expire` and after every successful
// backup, always under the stanza's backup lock.
//
// Safe against kill -9 at any point: backups go one by one, the newest of a set first (a dependent before its prior),
// each by its backup.info entry before its files (BackupStore.remove), so backup.info never lists a backup whose prior
// is gone. WAL goes only once backup.info no longer lists the backups that needed it, oldest first, data before claim
// (WalArchive.remove). What a killed expire left (an unlisted directory, WAL nothing needs, a claim without its
// data) the next expire removes: test/integration/expire-kill.test.ts kills a real one to check it.
import { log } from '../../common/log.js';
import { warnReconciled } from '../reconcile-warnings.js';
import type { RepoOptions } from '../../config/load.js';
import type { BackupRecord } from '../../repo/backup-info.js';
import type { Repository } from '../../repo/repository.js';
import { planBackupExpiry, type RetentionPolicy } from './backup-plan.js';
import { zoneFormatter } from './calendar.js';
import { historyToRemove } from './history-plan.js';
import { archiveRetentionBackup, keepRanges, walRunsToRemove } from './wal-plan.js';

export interface ExpireOptions {
  readonly dryRun: boolean;
  /** expire --set: only this backup and its dependents. */
  readonly set?: string | undefined;
  /** Epoch seconds. */
  readonly now: number;
  /** Where each action is reported (also logged at info). */
  readonly report: (line: string) => void;
  /** Restores reading this stanza's backups now (read-marker.ts): while any runs, files and WAL stay. */
  readonly restoresReading: () => Promise<number>;
}

/** The retention options of a repository (their defaults are the option table's: count, full, UTC). */
export function retentionPolicy(options: RepoOptions): RetentionPolicy {
  // A zone Intl does not know is refused here, naming this repository's option, whether or not a calendar rule
  // uses it yet.
  zoneFormatter(options.retentionTimeZone, `repo${options.index}-retention-time-zone`);
  return {
    full: options.retentionFull,
    fullType: options.retentionFullType,
    diff: options.retentionDiff,
    archive: options.retentionArchive,
    archiveType: options.retentionArchiveType,
    history: options.retentionHistory,
    calendar: {
      daily: options.retentionDaily,
      weekly: options.retentionWeekly,
      monthly: options.retentionMonthly,
      yearly: options.retentionYearly,
      timeZone: options.retentionTimeZone,
    },
  };
}

export async function expireRepo(
  repo: Repository,
  policy: RetentionPolicy,
  options: ExpireOptions,
): Promise<void> {
  const say = (line: string): void => {
    const text = `${repo.name}: ${line}${options.dryRun ? ' (dry-run)' : ''}`;
    log.info(text);
    options.report(`${text}\n`);
  };
  // Complete backups backup.info does not list are added back first, never removed as leftovers (BackupStore).
  const { info, added, kept, leftovers } = await repo.backups.reconcile(await repo.backups.requireInfo(), {
    dryRun: options.dryRun,
  });
  warnReconciled(repo.name, { added, kept }, options.dryRun);
  const plan = planBackupExpiry(info.backups, policy, {
    now: options.now,
    set: options.set,
    repoName: repo.name,
  });
  for (const warning of plan.warnings) log.warn(warning);
  for (const label of plan.keptPinned)
    log.info(`${repo.name}: backup ${label} kept: pinned, or a pinned backup depends on it`);
  const expired = new Set<string>();
  for (const set of plan.expired) {
    say(`expire ${set.reason} backup ${set.labels.length > 1 ? 'set ' : ''}${set.labels.join(', ')}`);
    for (const label of set.labels) expired.add(label);
  }
  // Asked after each backup.info entry is gone: a restore that marked itself before may be reading that backup.
  let reading = false;
  const keepFiles = async (): Promise<boolean> => (reading ||= (await options.restoresReading()) > 0);
  if (!options.dryRun)
    for (const label of [...expired].reverse()) await repo.backups.remove(label, { keepFiles });
  // After the backup.info entries: a kill never leaves a listed backup without its history manifest.
  if (policy.history !== undefined) {
    const current = info.backups.filter((backup) => !expired.has(backup.label));
    await expireHistory(repo, policy.history, new Set(current.map((backup) => backup.label)), options, say);
  }
  if (reading || (options.dryRun ? false : await keepFiles())) {
    log.warn(
      `${repo.name}: a restore of stanza '${repo.stanza}' is running: the files of expired backups and the WAL ` +
        'stay until an expire runs after it',
    );
    return;
  }
  const retained = info.backups.filter((backup) => !expired.has(backup.label));
  await removeLeftoverDirectories(repo, leftovers, retained, options, say);
  // No retention at all: warned above, and nothing is expired.
  if (plan.warnings.length > 0 && options.set === undefined) return;
  if (plan.archiveRetention === undefined) {
    log.info(
      policy.fullType === 'time' && policy.archive === undefined
        ? `${repo.name}: time-based archive retention not met - archive logs will not be expired`
        : `option '${repo.name}-retention-archive' is not set - archive logs will not be expired`,
    );
    return;
  }
  await expireWal(repo, retained, plan.archiveRetention, policy.archiveType, options, say);
}

/**
 * Backup directories backup.info does not list that are not complete backups (BackupStore.reconcile): left by an
 * expire or a backup that was killed. The newest one, when newer than every listed backup, may be a backup running
 * elsewhere or one the next backup resumes: it stays.
 */
async function removeLeftoverDirectories(
  repo: Repository,
  leftovers: readonly string[],
  retained: readonly BackupRecord[],
  options: ExpireOptions,
  say: (line: string) => void,
): Promise<void> {
  const newestListed = retained.at(-1)?.label ?? '';
  const newest = leftovers.at(-1);
  for (const label of leftovers) {
    if (label === newest && label > newestListed) continue;
    say(`remove expired backup ${label}`);
    if (!options.dryRun) await repo.backups.abandon(label);
  }
}

/** History manifests older than `days` but of the `current` backups (a restore never reads them: not kept for one). */
async function expireHistory(
  repo: Repository,
  days: number,
  current: ReadonlySet<string>,
  options: ExpireOptions,
  say: (line: string) => void,
): Promise<void> {
  for (const entry of historyToRemove(await repo.backups.history.list(), current, days, options.now)) {
    say(`remove expired backup history manifest ${entry.name}`);
    if (!options.dryRun) await repo.backups.history.remove(entry);
  }
}

async function expireWal(
  repo: Repository,
  retained: readonly BackupRecord[],
  retention: number,
  type: RetentionPolicy['archiveType'],
  options: ExpireOptions,
  say: (line: string) => void,
): Promise<void> {
  for (const id of await repo.wal.clusterIdsIfAny()) {
    const dbId = Number(id.slice(id.lastIndexOf('-') + 1));
    const local = retained.filter((backup) => backup.dbId === dbId);
    const anchor = archiveRetentionBackup(retained, local, retention, type);
    if (anchor === undefined) continue;
    log.detail(`${repo.name}: ${id} archive retention on backup ${anchor.label}, start = ${anchor.walStart}`);
    const names = new Set<string>();
    for (const dir of await repo.wal.segmentDirectories(id))
      for (const name of await repo.wal.namesIn(id, dir)) names.add(name.slice(0, 24));
    const runs = walRunsToRemove([...names].sort(), keepRanges(local, anchor));
    for (const run of runs) {
      say(`${id} remove archive, start = ${run.from}, stop = ${run.to}`);
      if (!options.dryRun) await repo.wal.remove(id, run);
    }
  }
}
