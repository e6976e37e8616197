// Which backups the retention policy expires (pgBackRest's expireFullBackup/expireTimeBasedBackup/expireDiffBackup
// and expireAdhocBackup), as a pure function of backup.info's list: no repository access here.
import { PgStashError } from '../../common/errors.js';
import type { BackupRecord } from '../../repo/backup-info.js';
import { calendarKept, hasCalendarRetention, type CalendarRetention } from './calendar.js';

/** The retention options of one repository. */
export interface RetentionPolicy {
  readonly full?: number | undefined;
  readonly fullType: 'count' | 'time';
  readonly diff?: number | undefined;
  readonly archive?: number | undefined;
  readonly archiveType: 'full' | 'diff' | 'incr';
  /** Days of backup history manifests to keep (history-plan.ts); unset: kept forever. */
  readonly history?: number | undefined;
  /** Calendar retention (calendar.ts): fulls it keeps stay whatever repo-retention-full says. */
  readonly calendar?: CalendarRetention | undefined;
}

/** One expired set: a backup and the backups that depend on it, and why. */
export interface ExpiredSet {
  readonly reason: 'full' | 'time-based' | 'calendar' | 'diff' | 'adhoc';
  readonly labels: readonly string[];
}

export interface BackupPlan {
  readonly expired: readonly ExpiredSet[];
  /** Backups kept although the policy would expire them: pinned, or a prior of a pinned backup. */
  readonly keptPinned: readonly string[];
  /** Archive retention, after pgBackRest's defaults (time-based full retention sets it to the fulls kept). */
  readonly archiveRetention: number | undefined;
  readonly warnings: readonly string[];
}

const SECONDS_PER_DAY = 86_400;

/** `label` and every backup whose prior chain reaches it, oldest first (the list is oldest first). */
export function dependentsOf(backups: readonly BackupRecord[], label: string): string[] {
  const set = new Set([label]);
  for (const backup of backups)
    if (backup.prior !== undefined && set.has(backup.prior)) set.add(backup.label);
  return backups.filter((backup) => set.has(backup.label)).map((backup) => backup.label);
}

/** Pinned backups and their prior chains: never expired. */
export function protectedLabels(backups: readonly BackupRecord[]): Set<string> {
  const byLabel = new Map(backups.map((backup) => [backup.label, backup]));
  const kept = new Set<string>();
  for (const backup of backups) {
    if (backup.pinned !== true) continue;
    for (let at: BackupRecord | undefined = backup; at !== undefined; at = byLabel.get(at.prior ?? ''))
      kept.add(at.label);
  }
  return kept;
}

/**
 * The backups to expire under `policy` (or only `set` and its dependents, for `expire --set`), `now` in epoch
 * seconds. The newest backup is never expired; a pinned backup and its prior chain never (a set that contains one is
 * kept whole, and said so).
 */
export function planBackupExpiry(
  backups: readonly BackupRecord[],
  policy: RetentionPolicy,
  options: { now: number; set?: string | undefined; repoName: string },
): BackupPlan {
  const pinned = protectedLabels(backups);
  const keptPinned = new Set<string>();
  const gone = new Set<string>();
  const expired: ExpiredSet[] = [];
  const warnings: string[] = [];
  const newest = backups.at(-1)?.label;
  const fulls = backups.filter((backup) => backup.type === 'full');
  const expire = (reason: ExpiredSet['reason'], label: string): boolean => {
    if (gone.has(label)) return true;
    const labels = dependentsOf(backups, label).filter((each) => !gone.has(each));
    const held = labels.filter((each) => pinned.has(each));
    if (held.length > 0) {
      for (const each of labels) keptPinned.add(each);
      return false;
    }
    if (newest !== undefined && labels.includes(newest)) return false;
    for (const each of labels) gone.add(each);
    expired.push({ reason, labels });
    return true;
  };

  if (options.set !== undefined) {
    const target = backups.find((backup) => backup.label === options.set);
    if (target === undefined) {
      throw new PgStashError(
        'backupSetInvalid',
        `backup set '${options.set}' is not in ${options.repoName}`,
        {
          hint: 'run the info command and check that the backup is listed',
        },
      );
    }
    if (pinned.has(target.label)) {
      throw new PgStashError(
        'backupSetInvalid',
        `backup set '${target.label}' is pinned${target.pinned === true ? '' : ' (a pinned backup depends on it)'}: it is not expired`,
        { hint: `unpin it first: pgstash annotate --set=<label> --unpin` },
      );
    }
    if (dependentsOf(backups, target.label).includes(newest ?? '')) {
      throw new PgStashError(
        'backupSetInvalid',
        `backup set '${target.label}' is or leads to the newest backup (${newest ?? ''}): it cannot be expired ` +
          'until a newer backup exists',
      );
    }
    expire('adhoc', target.label);
    return { expired, keptPinned: [], archiveRetention: archiveRetentionOf(policy, undefined), warnings };
  }

  let timeKeptFulls: number | undefined;
  const calendar =
    policy.calendar !== undefined && hasCalendarRetention(policy.calendar) ? policy.calendar : undefined;
  const calendarKeeps =
    calendar === undefined ? new Set<string>() : calendarKept(fulls, calendar, options.now);
  const expireFull = (reason: ExpiredSet['reason'], label: string): void => {
    if (!calendarKeeps.has(label)) expire(reason, label);
  };
  if (policy.full === undefined && calendar !== undefined) {
    // Calendar rules alone: every full they do not keep goes (the newest backup never does).
    for (const full of fulls) expireFull('calendar', full.label);
  } else if (policy.full === undefined) {
    warnings.push(
      `option '${options.repoName}-retention-full' is not set for '${options.repoName}-retention-full-type=${policy.fullType}', ` +
        'the repository may run out of space: no backup is expired\n' +
        `HINT: to retain full backups indefinitely (without warning), set option '${options.repoName}-retention-full' to the maximum.`,
    );
  } else if (policy.fullType === 'count') {
    for (const full of fulls.slice(0, Math.max(0, fulls.length - policy.full)))
      expireFull('full', full.label);
  } else {
    // Keep every full that stopped inside the window and the newest one that stopped before it (recovery to the
    // window's first instant starts there); expire the fulls before that one, with their dependents.
    const cutoff = options.now - policy.full * SECONDS_PER_DAY;
    const metIndex = fulls.findLastIndex((full) => full.timestampStop < cutoff);
    if (metIndex > 0) for (const full of fulls.slice(0, metIndex)) expireFull('time-based', full.label);
    timeKeptFulls = metIndex >= 0 ? fulls.length - metIndex : undefined;
  }
  if (policy.diff !== undefined) {
    // Full backups count as differential here (pgBackRest): F1 D1 D2 F2 with retention-diff=2 keeps F1, D2, F2.
    const diffs = backups.filter((backup) => !gone.has(backup.label) && backup.type !== 'incr');
    for (const backup of diffs.slice(0, Math.max(0, diffs.length - policy.diff)))
      if (backup.type === 'diff') expire('diff', backup.label);
  }
  return {
    expired,
    keptPinned: [...keptPinned],
    archiveRetention: archiveRetentionOf(policy, timeKeptFulls),
    warnings,
  };
}

/** repo-retention-archive, or its default (pgBackRest's cfgLoadUpdateOption rules). */
function archiveRetentionOf(policy: RetentionPolicy, timeKeptFulls: number | undefined): number | undefined {
  if (policy.archive !== undefined) return policy.archive;
  if (policy.archiveType === 'full') return policy.fullType === 'count' ? policy.full : timeKeptFulls;
  if (policy.archiveType === 'diff') return policy.diff;
  return undefined;
}
