// verify's WAL continuity: segment runs and gaps (across an xlogid boundary), a backup's start-to-stop range and its
// way to the end of the archive across timeline switches (the switch segment read from the new timeline).
import { describe, expect, it } from 'vitest';
import { checkBackupWal, SegmentRuns } from '../../../../src/command/verify/continuity.js';
import { parseTimelineHistory } from '../../../../src/postgres/timeline.js';

const MIB16 = 16 * 1024 * 1024;

function runsOf(names: readonly string[]): SegmentRuns {
  const runs = new SegmentRuns(MIB16);
  for (const name of [...names].sort()) runs.add(name);
  return runs;
}

const seg = (timeline: number, log: number, segNo: number): string =>
  `${timeline.toString(16).padStart(8, '0')}${log.toString(16).padStart(8, '0')}${segNo.toString(16).padStart(8, '0')}`.toUpperCase();

describe('SegmentRuns', () => {
  it('joins consecutive segments across an xlogid boundary and reports the gaps between runs', () => {
    const runs = runsOf([seg(1, 0, 0xfe), seg(1, 0, 0xff), seg(1, 1, 0), seg(1, 1, 3), seg(2, 1, 3)]);
    expect(runs.count).toBe(5);
    expect(runs.gaps()).toEqual([{ timeline: 1, from: seg(1, 1, 1), to: seg(1, 1, 2) }]);
    expect(runs.missing(1, 0xfdn, 0x104n)).toEqual([
      { timeline: 1, from: seg(1, 0, 0xfd), to: seg(1, 0, 0xfd) },
      { timeline: 1, from: seg(1, 1, 1), to: seg(1, 1, 2) },
      { timeline: 1, from: seg(1, 1, 4), to: seg(1, 1, 4) },
    ]);
    expect(runs.missing(2, 0x103n, 0x103n)).toEqual([]);
    expect(runs.last(2)).toBe(0x103n);
  });
});

describe('checkBackupWal', () => {
  // Timeline 2 branched off timeline 1 at 0/5800028 (in segment 5): recovery reads segment 5 from timeline 2.
  const histories = new Map([[2, parseTimelineHistory('1\t0/5800028\tno recovery target specified\n', 2)]]);
  const span = { walStart: seg(1, 0, 2), walStop: seg(1, 0, 3), lsnStop: '0/3000100', archiveCopy: false };

  it('a backup with its WAL and a continuous way to the newest segment of the latest timeline is whole', () => {
    const runs = runsOf([2, 3, 4, 5].map((n) => seg(1, 0, n)).concat([5, 6, 7].map((n) => seg(2, 0, n))));
    expect(checkBackupWal(runs, span, histories)).toEqual({
      consistencyGaps: [],
      timeline: 2,
      pitrGaps: [],
      pitrEnd: seg(2, 0, 7),
    });
  });

  it("timeline 1's own copy of the switch segment is not needed; a gap on timeline 2 ends point-in-time recovery", () => {
    const runs = runsOf([2, 3, 4].map((n) => seg(1, 0, n)).concat([5, 7].map((n) => seg(2, 0, n))));
    const wal = checkBackupWal(runs, span, histories);
    expect(wal.consistencyGaps).toEqual([]);
    expect(wal.pitrGaps).toEqual([{ timeline: 2, from: seg(2, 0, 6), to: seg(2, 0, 6) }]);
    expect(wal.pitrEnd).toBe(seg(2, 0, 5));
  });

  it('a segment missing from start to stop: not restorable; archive-copy backups hold their own', () => {
    const runs = runsOf([2, 4, 5].map((n) => seg(1, 0, n)));
    expect(checkBackupWal(runs, span, histories).consistencyGaps).toEqual([
      { timeline: 1, from: seg(1, 0, 3), to: seg(1, 0, 3) },
    ]);
    expect(checkBackupWal(runs, { ...span, archiveCopy: true }, histories).consistencyGaps).toEqual([]);
  });

  it('a timeline that branched before the backup stopped is not followed', () => {
    const early = new Map([[2, parseTimelineHistory('1\t0/2000000\tbefore\n', 2)]]);
    const runs = runsOf([2, 3, 4].map((n) => seg(1, 0, n)).concat([seg(2, 0, 2)]));
    const wal = checkBackupWal(runs, span, early);
    expect(wal.timeline).toBe(1);
    expect(wal.pitrEnd).toBe(seg(1, 0, 4));
  });
});
