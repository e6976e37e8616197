// Times shown to a DBA are local with their offset, whatever the zone: whole hours, half hours, west of UTC, DST.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localTimeText } from '../../../src/common/time-text.js';

describe('localTimeText', () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env['TZ'];
  });
  afterEach(() => {
    if (saved === undefined) delete process.env['TZ'];
    else process.env['TZ'] = saved;
  });

  const at = Date.UTC(2026, 11, 7, 19, 2, 20, 700);

  it('prints UTC with +00', () => {
    process.env['TZ'] = 'UTC';
    expect(localTimeText(at)).toBe('2026-12-07 19:02:20+00');
  });

  it('prints a zone of hours and minutes east of UTC, past midnight', () => {
    process.env['TZ'] = 'Asia/Kathmandu';
    expect(localTimeText(at)).toBe('2026-12-08 00:47:20+05:45');
  });

  it('prints a zone west of UTC with its minutes', () => {
    process.env['TZ'] = 'America/St_Johns';
    expect(localTimeText(at)).toBe('2026-12-07 15:32:20-03:30');
  });

  it('follows daylight saving', () => {
    process.env['TZ'] = 'Europe/Paris';
    expect(localTimeText(Date.UTC(2026, 0, 15, 12, 0, 0))).toBe('2026-01-15 13:00:00+01');
    expect(localTimeText(Date.UTC(2026, 6, 15, 12, 0, 0))).toBe('2026-07-15 14:00:00+02');
  });
});
