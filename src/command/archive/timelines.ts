// The timelines a stanza's archive holds: its timeline history files, parsed, and when each was archived.
import { isPgStashError, messageOf } from '../../common/errors.js';
import { localTimeText } from '../../common/time-text.js';
import { formatLsn } from '../../postgres/lsn.js';
import { parseTimelineHistory, type TimelineHistoryEntry } from '../../postgres/timeline.js';
import { parseWalFileName } from '../../postgres/wal-name.js';
import type { Repository } from '../../repo/repository.js';
import type { ArchivedFile } from '../../repo/wal-archive.js';

/** One timeline with a history file in the archive (timeline 1 never has one). */
export interface ArchivedTimeline {
  readonly timeline: number;
  /** The whole history file, oldest switch first: its last entry is where this timeline began. */
  readonly history: readonly TimelineHistoryEntry[];
  /** The timeline this one branched off, where, and why recovery ended there (PostgreSQL's reason line). */
  readonly parent: number;
  readonly switchLsn: bigint;
  readonly reason: string;
  /**
   * When the history file reached the repository: the repository file's modification time (epoch ms). The new
   * timeline's server archives it right after promotion, so this is about when the branch began; a file copied
   * or pushed again later shows a later time.
   */
  readonly archivedAtMs: number;
  /** The archive id it was found under. */
  readonly archiveId: string;
}

/** A timeline whose history file is in the archive but cannot be read or parsed (info lists it as such). */
export interface UnreadableTimeline {
  readonly timeline: number;
  readonly archiveId: string;
  /** The repository file's name, and why it cannot be read. */
  readonly file: string;
  readonly message: string;
}

/**
 * Every timeline history file under archive ids `ids` (newest id first: for a timeline found under several ids,
 * the first wins, as for archive-get), read and parsed; sorted by timeline. A history file that cannot be read or
 * parsed fails: recovery would fail on it too; with `unreadable`, it is handed to it instead and the others are
 * still read (info shows every timeline, the damaged one as such).
 */
export async function readArchivedTimelines(
  repo: Repository,
  ids: readonly string[],
  unreadable?: (entry: UnreadableTimeline) => void,
): Promise<ArchivedTimeline[]> {
  const found = new Map<number, ArchivedTimeline>();
  for (const id of ids) {
    for (const file of await repo.wal.historyFiles(id)) {
      const timeline = Number.parseInt(file.walFileName.slice(0, 8), 16);
      if (found.has(timeline)) continue;
      let history: TimelineHistoryEntry[] | undefined;
      try {
        history = await readHistory(repo, file, timeline);
      } catch (error) {
        if (unreadable === undefined || !isPgStashError(error)) throw error;
        unreadable({ timeline, archiveId: id, file: file.name, message: messageOf(error) });
        continue;
      }
      const last = history?.at(-1);
      if (history === undefined || last === undefined) continue;
      found.set(timeline, {
        timeline,
        history,
        parent: last.parent,
        switchLsn: last.switchLsn,
        reason: last.reason,
        archivedAtMs: file.mtimeMs,
        archiveId: id,
      });
    }
  }
  return [...found.values()].sort((a, b) => a.timeline - b.timeline);
}

/** One history file, read and parsed; undefined when it was removed since the listing. */
async function readHistory(
  repo: Repository,
  file: ArchivedFile,
  timeline: number,
): Promise<TimelineHistoryEntry[] | undefined> {
  const chunks = await repo.wal.read(file);
  if (chunks === undefined) return undefined;
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return parseTimelineHistory(Buffer.concat(parts).toString('utf8'), timeline, file.walFileName);
}

/**
 * The newest WAL segment archived on `timeline` under archive ids `ids`, or undefined: one listing of the
 * archive id roots and one of the newest segment directory of that timeline that holds a segment.
 */
export async function newestSegmentOnTimeline(
  repo: Repository,
  ids: readonly string[],
  timeline: number,
): Promise<string | undefined> {
  const prefix = timeline.toString(16).toUpperCase().padStart(8, '0');
  let newest: string | undefined;
  for (const id of ids) {
    for (const dir of (await repo.wal.segmentDirectories(id, { prefix })).reverse()) {
      let inDir: string | undefined;
      for (const { walFileName: wal } of await repo.wal.filesIn(id, dir)) {
        if (parseWalFileName(wal)?.kind === 'segment' && (inDir === undefined || wal > inDir)) inDir = wal;
      }
      if (inDir !== undefined) {
        if (newest === undefined || inDir > newest) newest = inDir;
        break;
      }
    }
  }
  return newest;
}

/** 'timeline 2 branched off timeline 1 at 0/4000170 (after transaction 745), history archived ...'. */
export function describeBranch(entry: ArchivedTimeline): string {
  const reason = entry.reason === '' ? '' : ` (${entry.reason})`;
  return (
    `timeline ${entry.timeline} branched off timeline ${entry.parent} at ${formatLsn(entry.switchLsn)}${reason}, ` +
    `its history file archived ${localTimeText(entry.archivedAtMs)} (repository file time)`
  );
}
