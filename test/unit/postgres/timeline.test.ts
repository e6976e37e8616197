// Tests for timeline history files: parsing, and which timeline a WAL position belongs to along a history.
import { errorOf } from '../../harness/errors.js';
import { describe, expect, it } from 'vitest';

import { isPgStashError } from '../../../src/common/errors.js';
import { parseLsn } from '../../../src/postgres/lsn.js';
import {
  isTimelineReachable,
  parseTimelineHistory,
  timelineEndLsn,
  timelineOfLsn,
  timelineRanges,
} from '../../../src/postgres/timeline.js';

// Timeline 4 forked from 3, which forked from 1 (timeline 2 was abandoned), the way PostgreSQL writes it.
const HISTORY_4 = [
  '1\t0/3000000\tno recovery target specified',
  '',
  '# a comment a person added',
  '3\t0/50001A8\tbefore 2026-11-21 12:00:00.123456+00',
  '',
].join('\n');

describe('parseTimelineHistory', () => {
  it('reads each switch, skipping blank lines and comments', () => {
    expect(parseTimelineHistory(HISTORY_4, 4)).toEqual([
      { timeline: 3, parent: 1, switchLsn: parseLsn('0/3000000'), reason: 'no recovery target specified' },
      {
        timeline: 4,
        parent: 3,
        switchLsn: parseLsn('0/50001A8'),
        reason: 'before 2026-11-21 12:00:00.123456+00',
      },
    ]);
  });

  it('reads the single line of a first promotion, with CRLF, spaces and no reason', () => {
    expect(parseTimelineHistory('  1\t0/A000000\r\n', 2)).toEqual([
      { timeline: 2, parent: 1, switchLsn: parseLsn('0/A000000'), reason: '' },
    ]);
    expect(parseTimelineHistory('1 16/b374d848   reason with  spaces  ', 2)[0]).toEqual({
      timeline: 2,
      parent: 1,
      switchLsn: parseLsn('16/B374D848'),
      reason: 'reason with  spaces',
    });
    expect(parseTimelineHistory('', 1)).toEqual([]);
  });

  it.each([
    ['garbage', 'line 1'],
    ['1\tnot-an-lsn\treason', "invalid switch LSN 'not-an-lsn'"],
    ['x\t0/3000000\treason', 'line 1'],
    ['0\t0/3000000\treason', "invalid timeline '0'"],
    ['1\t0/3000000\n1\t0/4000000', 'timelines must increase'],
    ['2\t0/3000000\n1\t0/4000000', 'timelines must increase'],
    ['1\t0/5000000\n2\t0/4000000', 'is before 0/5000000'],
    ['4\t0/3000000', 'parent timeline 4 is not below timeline 4'],
  ])('refuses %j with fileInvalid naming the file', (content, reason) => {
    const error = errorOf(() => parseTimelineHistory(content, 4));
    expect(isPgStashError(error, 'fileInvalid')).toBe(true);
    expect((error as Error).message).toContain("timeline history file '00000004.history'");
    expect((error as Error).message).toContain(reason);
  });

  it('names the file it was given', () => {
    const error = errorOf(() => parseTimelineHistory('bad', 2, '/repo/archive/00000002.history'));
    expect((error as Error).message).toContain("'/repo/archive/00000002.history' is invalid at line 1");
  });
});

describe('timeline helpers', () => {
  const history = parseTimelineHistory(HISTORY_4, 4);

  it('lists the stretch of WAL each timeline contributes', () => {
    expect(timelineRanges(history, 4)).toEqual([
      { timeline: 1, begin: 0n, end: parseLsn('0/3000000') },
      { timeline: 3, begin: parseLsn('0/3000000'), end: parseLsn('0/50001A8') },
      { timeline: 4, begin: parseLsn('0/50001A8'), end: undefined },
    ]);
    expect(timelineRanges([], 1)).toEqual([{ timeline: 1, begin: 0n, end: undefined }]);
    expect(
      isPgStashError(
        errorOf(() => timelineRanges(history, 5)),
        'paramInvalid',
      ),
    ).toBe(true);
  });

  it('finds the timeline of a WAL position (a switch point belongs to the new timeline)', () => {
    expect(timelineOfLsn(history, 4, 0n)).toBe(1);
    expect(timelineOfLsn(history, 4, parseLsn('0/2FFFFFF'))).toBe(1);
    expect(timelineOfLsn(history, 4, parseLsn('0/3000000'))).toBe(3);
    expect(timelineOfLsn(history, 4, parseLsn('0/50001A7'))).toBe(3);
    expect(timelineOfLsn(history, 4, parseLsn('0/50001A8'))).toBe(4);
    expect(timelineOfLsn(history, 4, parseLsn('FF/0'))).toBe(4);
    expect(timelineOfLsn([], 1, parseLsn('FF/0'))).toBe(1);
  });

  it('finds where a timeline ended in the history', () => {
    expect(timelineEndLsn(history, 4, 1)).toBe(parseLsn('0/3000000'));
    expect(timelineEndLsn(history, 4, 3)).toBe(parseLsn('0/50001A8'));
    expect(timelineEndLsn(history, 4, 4)).toBeUndefined();
    const error = errorOf(() => timelineEndLsn(history, 4, 2));
    expect(isPgStashError(error, 'paramInvalid')).toBe(true);
    expect((error as Error).message).toBe('timeline 2 is not in the history of timeline 4');
  });

  it('tells whether a backup can recover along the target timeline', () => {
    expect(isTimelineReachable(history, 4, { timeline: 1, lsn: parseLsn('0/2000060') })).toBe(true);
    expect(isTimelineReachable(history, 4, { timeline: 1, lsn: parseLsn('0/3000000') })).toBe(true);
    expect(isTimelineReachable(history, 4, { timeline: 1, lsn: parseLsn('0/3000028') })).toBe(false);
    expect(isTimelineReachable(history, 4, { timeline: 2, lsn: parseLsn('0/2000060') })).toBe(false);
    expect(isTimelineReachable(history, 4, { timeline: 4, lsn: parseLsn('9/0') })).toBe(true);
  });
});
