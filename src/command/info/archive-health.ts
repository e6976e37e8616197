// What info reports from the archive beyond its range: the timelines and where they branched, and the backups
// whose WAL is not there (listed as valid, but PostgreSQL cannot reach consistency from them).
import { isPgStashError, messageOf } from '../../common/errors.js';
import { log } from '../../common/log.js';
import { formatLsn } from '../../postgres/lsn.js';
import type { BackupRecord } from '../../repo/backup-info.js';
import type { Repository } from '../../repo/repository.js';
import { describeSegments, missingBackupWal } from '../archive/backup-wal.js';
import {
  describeBranch,
  readArchivedTimelines,
  type ArchivedTimeline,
  type UnreadableTimeline,
} from '../archive/timelines.js';

export interface ArchiveHealth {
  /** Timelines with a history file, per archive id (timeline 1 has none). */
  readonly timelines: readonly ArchivedTimeline[];
  /** Timelines whose history file cannot be read: recovery that follows one stops at it. */
  readonly unreadable: readonly UnreadableTimeline[];
  /** Segments each backup needs to reach consistency that are not archived, by label (only when some are missing). */
  readonly walMissing: Readonly<Record<string, readonly string[]>>;
}

/** Reads the timelines of each archive id and checks every backup's WAL: one listing per segment directory. */
export async function collectArchiveHealth(
  repo: Repository,
  archives: readonly { readonly id: string; readonly dbId: number }[],
  backups: readonly BackupRecord[],
): Promise<ArchiveHealth> {
  // A history file or manifest that cannot be read costs this report, not the rest of info: warn and go on.
  const warned = (error: unknown): undefined => {
    if (!isPgStashError(error)) throw error;
    log.warn(`${repo.name}: ${messageOf(error)}`);
    return undefined;
  };
  const timelines: ArchivedTimeline[] = [];
  const unreadable: UnreadableTimeline[] = [];
  // A damaged history file is listed as such, and the other timelines still are (it used to hide them all).
  const damaged = (entry: UnreadableTimeline): void => {
    log.warn(`${repo.name}: ${entry.message}`);
    unreadable.push(entry);
  };
  for (const { id } of archives)
    timelines.push(...((await readArchivedTimelines(repo, [id], damaged).catch(warned)) ?? []));
  const walMissing: Record<string, readonly string[]> = {};
  const listings = new Map<string, Set<string>>();
  for (const backup of backups) {
    // The backup's WAL is under its own cluster's archive id: another cluster's segments of the same name are not it.
    const ids = archives.filter((archive) => archive.dbId === backup.dbId).map((archive) => archive.id);
    const missing = await missingBackupWal(repo, ids, backup, { listings }).catch(warned);
    if (missing !== undefined && missing.length > 0) walMissing[backup.label] = missing;
  }
  return { timelines, unreadable, walMissing };
}

/** The JSON of one timeline, as docs/info-json.md documents it. */
export function timelineJson(entry: ArchivedTimeline, repo: number): unknown {
  return {
    id: entry.timeline,
    'archive-id': entry.archiveId,
    'repo-key': repo,
    parent: entry.parent,
    'switch-lsn': formatLsn(entry.switchLsn),
    reason: entry.reason,
    'history-archived': { time: Math.floor(entry.archivedAtMs / 1000), source: 'repository-file-mtime' },
  };
}

/** The JSON of a timeline whose history file cannot be read: what is known of it, and why. */
export function unreadableTimelineJson(entry: UnreadableTimeline, repo: number): unknown {
  return {
    id: entry.timeline,
    'archive-id': entry.archiveId,
    'repo-key': repo,
    parent: null,
    'switch-lsn': null,
    reason: null,
    'history-archived': null,
    error: entry.message,
  };
}

/** Text lines for the timelines of archive id `id`, indented under its db. */
export function timelineLines(health: ArchiveHealth | undefined, id: string): string[] {
  const own = (health?.timelines ?? []).filter((entry) => entry.archiveId === id);
  const damaged = (health?.unreadable ?? []).filter((entry) => entry.archiveId === id);
  if (own.length === 0 && damaged.length === 0) return [];
  const all = new Set([
    ...own.flatMap((entry) => [...entry.history.map((line) => line.parent), entry.timeline]),
    ...damaged.map((entry) => entry.timeline),
  ]);
  return [
    `        timelines (${id}): ${[...all].sort((a, b) => a - b).join(', ')}`,
    ...own.map((entry) => `            ${describeBranch(entry)}`),
    ...damaged.map(
      (entry) =>
        `            timeline ${entry.timeline}: its history file cannot be read (${entry.message}); ` +
        `a recovery that follows timeline ${entry.timeline} stops at it`,
    ),
  ];
}

/** The text line for a backup whose WAL is missing from the archive. */
export function walMissingLine(missing: readonly string[] | undefined): string[] {
  if (missing === undefined || missing.length === 0) return [];
  return [
    `            wal missing: not restorable to consistency (not in the archive: ${describeSegments(missing)})`,
  ];
}
