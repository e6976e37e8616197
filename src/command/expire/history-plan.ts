// Which backup history manifests expire removes (pgBackRest's removeExpiredHistory), as a pure function of the
// history's entries: those whose label is older than repo-retention-history days, never one of a backup still listed.
import type { HistoryEntry } from '../../repo/backup-history.js';
import { backupLabel } from '../../repo/label.js';

const SECONDS_PER_DAY = 86_400;

/**
 * The entries to remove: a label compares with the full label the cutoff instant (`now` minus `days`, epoch
 * seconds) would have, as pgBackRest compares them, so a diff or incr goes with its full's label (its first part).
 * `current`: the labels backup.info lists.
 */
export function historyToRemove(
  entries: readonly HistoryEntry[],
  current: ReadonlySet<string>,
  days: number,
  now: number,
): HistoryEntry[] {
  const oldestKept = backupLabel('full', new Date((now - days * SECONDS_PER_DAY) * 1000));
  return entries.filter((entry) => !current.has(entry.label) && entry.label < oldestKept);
}
