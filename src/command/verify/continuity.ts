// WAL continuity for verify: the archive's segments as runs per timeline (memory grows with gaps, not with WAL),
// each backup's start-to-stop range (restorable to consistency) and its path to the end of the archive (PITR),
// across timeline switches as recovery follows them (recovery_target_timeline=latest).
import { parseLsn } from '../../postgres/lsn.js';
import { isTimelineReachable, timelineRanges, type TimelineHistoryEntry } from '../../postgres/timeline.js';
import {
  lsnToSegmentNumber,
  segmentNumberOfName,
  walSegmentNameFromNumber,
} from '../../postgres/wal-name.js';

/** Missing segments of one timeline, first to last (names). */
export interface WalGap {
  readonly timeline: number;
  readonly from: string;
  readonly to: string;
}

interface Run {
  first: bigint;
  last: bigint;
}

/** The segments present (read and sound) in one archive id, as runs of consecutive segment numbers per timeline. */
export class SegmentRuns {
  readonly segmentSize: number;
  readonly #runs = new Map<number, Run[]>();

  constructor(segmentSize: number) {
    this.segmentSize = segmentSize;
  }

  /** Adds a segment; segments of a timeline come in ascending order (a listing's order). */
  add(name: string): void {
    const timeline = Number.parseInt(name.slice(0, 8), 16);
    const number = segmentNumberOfName(name, this.segmentSize);
    const runs = this.#runs.get(timeline) ?? [];
    this.#runs.set(timeline, runs);
    const last = runs.at(-1);
    if (last !== undefined && number === last.last + 1n) last.last = number;
    else if (last === undefined || number > last.last) runs.push({ first: number, last: number });
  }

  #name(timeline: number, number: bigint): string {
    return walSegmentNameFromNumber(timeline, number, this.segmentSize);
  }

  /** The newest segment number of `timeline`, if it has any. */
  last(timeline: number): bigint | undefined {
    return this.#runs.get(timeline)?.at(-1)?.last;
  }

  /** The segments from `from` to `to` (numbers, inclusive) of `timeline` that are not present, as gaps. */
  missing(timeline: number, from: bigint, to: bigint): WalGap[] {
    const gaps: WalGap[] = [];
    let next = from;
    for (const run of this.#runs.get(timeline) ?? []) {
      if (next > to) break;
      if (run.last < next) continue;
      if (run.first > next) {
        const end = run.first - 1n < to ? run.first - 1n : to;
        gaps.push({ timeline, from: this.#name(timeline, next), to: this.#name(timeline, end) });
      }
      next = run.last + 1n;
    }
    if (next <= to) gaps.push({ timeline, from: this.#name(timeline, next), to: this.#name(timeline, to) });
    return gaps;
  }

  /** Gaps between the segments present, per timeline: what the archive lacks between its oldest and newest. */
  gaps(): WalGap[] {
    const gaps: WalGap[] = [];
    for (const timeline of [...this.#runs.keys()].sort((a, b) => a - b)) {
      const runs = this.#runs.get(timeline) ?? [];
      for (let index = 1; index < runs.length; index++) {
        const before = runs[index - 1] as Run;
        const run = runs[index] as Run;
        gaps.push({
          timeline,
          from: this.#name(timeline, before.last + 1n),
          to: this.#name(timeline, run.first - 1n),
        });
      }
    }
    return gaps;
  }

  /** Segments present in all. */
  get count(): number {
    let count = 0n;
    for (const runs of this.#runs.values()) for (const run of runs) count += run.last - run.first + 1n;
    return Number(count);
  }
}

/** What a backup needs from the archive, and what of it is there. */
export interface BackupWal {
  /** Segments of its start to stop that are missing or damaged: it cannot reach consistency. */
  readonly consistencyGaps: readonly WalGap[];
  /** The timeline recovery to the end of the archive follows. */
  readonly timeline: number;
  /** Gaps on the way from its stop to the end of the archive: point-in-time recovery ends before the first. */
  readonly pitrGaps: readonly WalGap[];
  /** The last segment recovery reaches without a gap (undefined when not even consistency). */
  readonly pitrEnd: string | undefined;
}

/** The backup's WAL as verify sees it: names and positions from its backup.info record. */
export interface BackupWalSpan {
  readonly walStart: string;
  readonly walStop: string;
  readonly lsnStop: string;
  readonly archiveCopy: boolean;
}

/**
 * Checks backup `span`'s WAL against the archive: its start to stop on its own timeline, then every timeline
 * recovery would follow from its stop to the newest one (the latest reachable: its history holds the backup's
 * timeline, branched off after the backup's stop), to that timeline's newest segment. `histories` holds each
 * timeline's parsed history file (timeline 1 has none).
 */
export function checkBackupWal(
  runs: SegmentRuns,
  span: BackupWalSpan,
  histories: ReadonlyMap<number, readonly TimelineHistoryEntry[]>,
): BackupWal {
  const size = runs.segmentSize;
  const timeline = Number.parseInt(span.walStart.slice(0, 8), 16);
  const start = segmentNumberOfName(span.walStart, size);
  const stop = segmentNumberOfName(span.walStop, size);
  const consistencyGaps = span.archiveCopy ? [] : runs.missing(timeline, start, stop);
  const stopLsn = parseLsn(span.lsnStop);
  let target = timeline;
  for (const [candidate, history] of histories) {
    if (candidate > target && isTimelineReachable(history, candidate, { timeline, lsn: stopLsn }))
      target = candidate;
  }
  const pitrGaps: WalGap[] = [];
  let pitrEnd: string | undefined;
  if (consistencyGaps.length === 0) {
    pitrEnd = span.walStop;
    for (const range of timelineRanges(histories.get(target) ?? [], target)) {
      if (range.end !== undefined && range.end <= stopLsn) continue;
      const begin = lsnToSegmentNumber(range.begin, size);
      const from = begin > stop ? begin : stop;
      // A switch segment is read from the new timeline (PostgreSQL copies it there at promotion).
      const to =
        range.end === undefined ? runs.last(range.timeline) : lsnToSegmentNumber(range.end, size) - 1n;
      if (to === undefined) {
        // The target timeline has a history file and no segment: recovery cannot go past the switch.
        pitrGaps.push({
          timeline: range.timeline,
          from: walSegmentNameFromNumber(range.timeline, from, size),
          to: walSegmentNameFromNumber(range.timeline, from, size),
        });
        break;
      }
      if (from > to) continue;
      const gaps = runs.missing(range.timeline, from, to);
      if (pitrGaps.length === 0) {
        const first = gaps[0];
        pitrEnd =
          first === undefined
            ? walSegmentNameFromNumber(range.timeline, to, size)
            : segmentNumberOfName(first.from, size) > from
              ? walSegmentNameFromNumber(range.timeline, segmentNumberOfName(first.from, size) - 1n, size)
              : pitrEnd;
      }
      pitrGaps.push(...gaps);
    }
  }
  return { consistencyGaps, timeline: target, pitrGaps, pitrEnd };
}
