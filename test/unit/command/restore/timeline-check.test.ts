// Tests for the timeline a restore's recovery follows from a backup, and the timelines that branch after it.
import { describe, expect, it } from 'vitest';

import type { ArchivedTimeline } from '../../../../src/command/archive/timelines.js';
import { chooseTimeline, describeChoice } from '../../../../src/command/restore/timeline-check.js';
import { parseLsn } from '../../../../src/postgres/lsn.js';
import { parseTimelineHistory } from '../../../../src/postgres/timeline.js';

function archived(timeline: number, history: string): ArchivedTimeline {
  const entries = parseTimelineHistory(history, timeline);
  const last = entries.at(-1);
  if (last === undefined) throw new Error('empty history');
  return {
    timeline,
    history: entries,
    parent: last.parent,
    switchLsn: last.switchLsn,
    reason: last.reason,
    archivedAtMs: 0,
    archiveId: '15-1',
  };
}

// The backup starts on timeline 1 at 0/5000028.
const BACKUP = { timeline: 1, startLsn: parseLsn('0/5000028') };
// Timeline 2: a promoted copy, branched after the backup; 3 branched off 2; 4 branched off 1 before the backup.
const TL2 = archived(2, '1\t0/7000000\tno recovery target specified\n');
const TL3 = archived(3, '1\t0/7000000\tno recovery target specified\n2\t0/9000000\tafter transaction 750\n');
const TL4 = archived(4, '1\t0/3000000\tbefore 2026-12-06 10:00:00+00\n');

describe('chooseTimeline', () => {
  it("one timeline: latest stays on the backup's, with no branch", () => {
    const choice = chooseTimeline(BACKUP, [], undefined);
    expect(choice).toEqual({ backupTimeline: 1, followed: 1, goal: 'latest', branches: [], reachable: true });
  });

  it("latest is PostgreSQL's: the newest of the timelines numbered on from the backup's without a gap", () => {
    expect(chooseTimeline(BACKUP, [TL2, TL3], 'latest').followed).toBe(3);
    // No 3: the probe stops at 2, though 4 exists.
    expect(chooseTimeline(BACKUP, [TL2, TL4], undefined).followed).toBe(2);
  });

  it('lists the timelines branching after the backup, not the one that branched before it', () => {
    const choice = chooseTimeline(BACKUP, [TL2, TL3, TL4], undefined);
    expect(choice.branches.map((entry) => entry.timeline)).toEqual([2, 3]);
  });

  it('current and a number', () => {
    expect(chooseTimeline(BACKUP, [TL2], 'current')).toMatchObject({ followed: 1, goal: 'current' });
    expect(chooseTimeline(BACKUP, [TL2, TL3], '2')).toMatchObject({ followed: 2, goal: 'explicit' });
    expect(chooseTimeline(BACKUP, [TL2, TL3], '0x3')).toMatchObject({ followed: 3, reachable: true });
  });

  it('a timeline that branched before the backup, or has no history file, cannot be followed', () => {
    expect(chooseTimeline(BACKUP, [TL2, TL3, TL4], '4').reachable).toBe(false);
    expect(chooseTimeline(BACKUP, [TL2], '7').reachable).toBe(false);
    // Latest lands on a timeline 2 that branched before the backup: PostgreSQL would refuse it.
    const onlyFour = chooseTimeline(BACKUP, [archived(2, '1\t0/1000000\tx\n'), TL4], undefined);
    expect(onlyFour).toMatchObject({ followed: 2, reachable: false });
  });

  it('describes the choice', () => {
    expect(describeChoice(chooseTimeline(BACKUP, [TL2], undefined))).toBe(
      "recovery follows timeline 2 (latest: the newest timeline in the archive, PostgreSQL's default)",
    );
    expect(describeChoice(chooseTimeline(BACKUP, [TL2], '1'))).toBe(
      'recovery follows timeline 1 (--target-timeline)',
    );
  });
});
