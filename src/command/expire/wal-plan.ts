// Which archived WAL the retained backups no longer need (pgBackRest's removeExpiredArchive), per archive id, as a
// pure function of the backups and the archive's segment names.
//
// Kept: from the archive-retention backup's walStart on, and from every newer backup's walStart on (point-in-time
// recovery); from walStart to walStop of each older backup still listed (recovery to consistency). A name is compared
// with a bound as a string, which on 24 hex digits (timeline, log, segment) is (timeline, position) order: "from X on"
// keeps X's timeline from X's position and every later timeline whole, which is what recovery from X can follow. A
// lower timeline past X's position is not kept by X, only by a backup on it: hence every backup newer than the
// retention backup keeps its own open range (a backup on an older timeline taken after a failover is not lost).
// What is removed goes as runs that never cross a timeline: WalArchive.remove takes a range of one timeline.
import type { BackupRecord } from '../../repo/backup-info.js';

/** WAL of one timeline to remove, both ends inclusive, as 24-digit segment names. */
export interface WalRun {
  readonly from: string;
  readonly to: string;
}

interface KeepRange {
  readonly start: string;
  readonly stop?: string | undefined;
}

/**
 * The backup that archive retention keeps point-in-time recovery from, among `local` (the backups of one archive
 * id, oldest first): the oldest of the newest `retention` backups of the type counted; with none of those in this
 * archive id, its newest backup. Undefined when there are fewer than `retention` backups counted (too soon to expire).
 */
export function archiveRetentionBackup(
  all: readonly BackupRecord[],
  local: readonly BackupRecord[],
  retention: number,
  type: 'full' | 'diff' | 'incr',
): BackupRecord | undefined {
  const counted = all.filter(
    (backup) => backup.type === 'full' || type === 'incr' || (type === 'diff' && backup.type === 'diff'),
  );
  if (counted.length < retention || local.length === 0) return undefined;
  const kept = new Set(counted.slice(counted.length - retention).map((backup) => backup.label));
  return local.find((backup) => kept.has(backup.label)) ?? local.at(-1);
}

/** The ranges the backups of one archive id keep, given its retention backup. */
export function keepRanges(local: readonly BackupRecord[], retention: BackupRecord): KeepRange[] {
  return local.map((backup) =>
    backup.label < retention.label
      ? { start: backup.walStart, stop: backup.walStop }
      : { start: backup.walStart },
  );
}

/** The runs of `segments` (sorted 24-digit names of one archive id) that no range keeps, one timeline each. */
export function walRunsToRemove(segments: readonly string[], ranges: readonly KeepRange[]): WalRun[] {
  const kept = (name: string): boolean =>
    ranges.some((range) => name >= range.start && (range.stop === undefined || name <= range.stop));
  const runs: WalRun[] = [];
  let run: { from: string; to: string } | undefined;
  for (const name of segments) {
    if (kept(name) || (run !== undefined && run.from.slice(0, 8) !== name.slice(0, 8))) {
      if (run !== undefined) runs.push(run);
      run = undefined;
    }
    if (kept(name)) continue;
    if (run === undefined) run = { from: name, to: name };
    else run.to = name;
  }
  if (run !== undefined) runs.push(run);
  return runs;
}
