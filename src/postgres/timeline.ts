// Timeline history files (00000002.history): which timelines led to a timeline, and where each one forked off.
import { fail } from '../common/errors.js';
import { formatLsn, isLsn, parseLsn } from './lsn.js';

/** One line of a history file: `timeline` branched off `parent` at `switchLsn`. */
export interface TimelineHistoryEntry {
  /** The timeline that began at switchLsn: the next line's parent, or the history file's own timeline. */
  timeline: number;
  /** The timeline that ended at switchLsn. */
  parent: number;
  switchLsn: bigint;
  /** Why recovery ended, as PostgreSQL wrote it ('no recovery target specified', 'before 2026-...'). */
  reason: string;
}

/** The stretch of WAL one timeline contributes to a timeline's history: [begin, end). */
export interface TimelineRange {
  timeline: number;
  begin: bigint;
  /** Undefined for the target timeline itself: it has not ended. */
  end: bigint | undefined;
}

// PostgreSQL writes "%u\t%X/%X\t%s\n"; its reader (readTimeLineHistory) skips leading white space, blank lines
// and '#' comments, and needs the first two fields only.
const LINE = /^(\d+)\s+(\S+)(?:\s+(.*))?$/;

/**
 * Parses the history file of `timeline` (the number in its name). Lines are `parentTLI<TAB>switchpoint<TAB>reason`;
 * blank lines and '#' comments are ignored. Bad lines, parents that do not increase, and parents not below
 * `timeline` fail with fileInvalid (28) naming `file`.
 */
export function parseTimelineHistory(
  content: string,
  timeline: number,
  file = `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`,
): TimelineHistoryEntry[] {
  const invalid: (lineNo: number, reason: string) => never = (lineNo, reason) =>
    fail('fileInvalid', `timeline history file '${file}' is invalid at line ${lineNo}: ${reason}`);
  const parsed: { parent: number; switchLsn: bigint; reason: string }[] = [];
  const lines = content.split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, '').trimStart();
    if (line === '' || line.startsWith('#')) continue;
    const lineNo = index + 1;
    const match = LINE.exec(line.trimEnd());
    if (match === null)
      invalid(lineNo, `expected 'parent-timeline<TAB>switch-LSN<TAB>reason', found '${line}'`);
    const parentText = match[1] ?? '';
    const lsnText = match[2] ?? '';
    const parent = Number(parentText);
    if (!Number.isSafeInteger(parent) || parent < 1 || parent > 0xffffffff) {
      invalid(lineNo, `invalid timeline '${parentText}'`);
    }
    if (!isLsn(lsnText)) invalid(lineNo, `invalid switch LSN '${lsnText}'`);
    const switchLsn = parseLsn(lsnText);
    const previous = parsed.at(-1);
    if (previous !== undefined && parent <= previous.parent) {
      invalid(
        lineNo,
        `timeline ${parent} does not follow timeline ${previous.parent}: timelines must increase`,
      );
    }
    if (previous !== undefined && switchLsn < previous.switchLsn) {
      invalid(lineNo, `switch LSN ${formatLsn(switchLsn)} is before ${formatLsn(previous.switchLsn)}`);
    }
    if (parent >= timeline) invalid(lineNo, `parent timeline ${parent} is not below timeline ${timeline}`);
    parsed.push({ parent, switchLsn, reason: match[3] ?? '' });
  }
  return parsed.map((entry, index) => ({ timeline: parsed[index + 1]?.parent ?? timeline, ...entry }));
}

/**
 * The timelines whose WAL makes up `targetTimeline`'s history, oldest first, with the LSN range each contributes.
 * `history` is the parsed history file of targetTimeline (empty for timeline 1, which has none).
 */
export function timelineRanges(
  history: readonly TimelineHistoryEntry[],
  targetTimeline: number,
): TimelineRange[] {
  const last = history.at(-1);
  if (last !== undefined && last.timeline !== targetTimeline) {
    fail('paramInvalid', `timeline history of ${last.timeline} given for timeline ${targetTimeline}`);
  }
  const ranges: TimelineRange[] = [];
  let begin = 0n;
  for (const entry of history) {
    ranges.push({ timeline: entry.parent, begin, end: entry.switchLsn });
    begin = entry.switchLsn;
  }
  ranges.push({ timeline: targetTimeline, begin, end: undefined });
  return ranges;
}

/**
 * The timeline that WAL position `lsn` belongs to when recovering along `targetTimeline` (PostgreSQL's
 * tliOfPointInHistory): a switch LSN already belongs to the new timeline.
 */
export function timelineOfLsn(
  history: readonly TimelineHistoryEntry[],
  targetTimeline: number,
  lsn: bigint,
): number {
  const range = timelineRanges(history, targetTimeline).find(
    (candidate) => lsn >= candidate.begin && (candidate.end === undefined || lsn < candidate.end),
  );
  // The ranges cover 0 to infinity without gaps, so only a negative lsn gets here.
  if (range === undefined) fail('paramInvalid', `invalid LSN '${lsn}'`);
  return range.timeline;
}

/**
 * Where `timeline` ends in `targetTimeline`'s history (PostgreSQL's tliSwitchPoint): undefined when timeline is
 * the target itself; fails with paramInvalid when `timeline` is not in that history at all.
 */
export function timelineEndLsn(
  history: readonly TimelineHistoryEntry[],
  targetTimeline: number,
  timeline: number,
): bigint | undefined {
  const range = timelineRanges(history, targetTimeline).find((candidate) => candidate.timeline === timeline);
  if (range === undefined) {
    fail('paramInvalid', `timeline ${timeline} is not in the history of timeline ${targetTimeline}`);
  }
  return range.end;
}

/**
 * Whether recovery can follow `targetTimeline` from a backup whose checkpoint is at `lsn` on `timeline`:
 * the timeline must be in the target's history and must not have forked off before the checkpoint (the check
 * PostgreSQL makes at startup: "requested timeline is not a child of this server's history").
 */
export function isTimelineReachable(
  history: readonly TimelineHistoryEntry[],
  targetTimeline: number,
  from: { timeline: number; lsn: bigint },
): boolean {
  const range = timelineRanges(history, targetTimeline).find(
    (candidate) => candidate.timeline === from.timeline,
  );
  return range !== undefined && (range.end === undefined || from.lsn <= range.end);
}
