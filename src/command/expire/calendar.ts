// Calendar retention (pgBackRest has none; its issues 872 and 2847): keep the newest full backup of each of the last
// N days, ISO weeks, months and years, in a time zone (UTC unless repo-retention-time-zone says otherwise).
import { PgStashError } from '../../common/errors.js';
import type { BackupRecord } from '../../repo/backup-info.js';

export interface CalendarRetention {
  readonly daily?: number | undefined;
  readonly weekly?: number | undefined;
  readonly monthly?: number | undefined;
  readonly yearly?: number | undefined;
  readonly timeZone: string;
}

type Period = 'daily' | 'weekly' | 'monthly' | 'yearly';
const PERIODS: readonly Period[] = ['daily', 'weekly', 'monthly', 'yearly'];
const DAY_MS = 86_400_000;

export function hasCalendarRetention(calendar: CalendarRetention): boolean {
  return PERIODS.some((period) => calendar[period] !== undefined);
}

/** A formatter of dates in `timeZone`; optionInvalidValue (32) naming the option for a zone Intl does not know. */
export function zoneFormatter(timeZone: string, option: string): Intl.DateTimeFormat {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  } catch {
    throw new PgStashError('optionInvalidValue', `'${timeZone}' is not a time zone for '${option}' option`, {
      hint: "use an IANA name such as 'UTC' or 'Europe/Paris'",
    });
  }
}

/** The calendar date of epoch second `seconds` in the zone, as a UTC midnight (for date arithmetic). */
function localDate(format: Intl.DateTimeFormat, seconds: number): Date {
  const parts = Object.fromEntries(
    format.formatToParts(seconds * 1000).map((part) => [part.type, part.value]),
  );
  return new Date(Date.UTC(Number(parts['year']), Number(parts['month']) - 1, Number(parts['day'])));
}

/** ISO 8601 week of a date: '2026-W49' (the week's Thursday decides its year). */
function isoWeek(date: Date): string {
  const thursday = new Date(date.getTime() + (3 - ((date.getUTCDay() + 6) % 7)) * DAY_MS);
  const jan4 = new Date(Date.UTC(thursday.getUTCFullYear(), 0, 4));
  const days = (thursday.getTime() - jan4.getTime()) / DAY_MS;
  const week = 1 + Math.round((days - 3 + ((jan4.getUTCDay() + 6) % 7)) / 7);
  return `${thursday.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

function periodKey(period: Period, date: Date): string {
  const iso = date.toISOString();
  if (period === 'daily') return iso.slice(0, 10);
  if (period === 'weekly') return isoWeek(date);
  if (period === 'monthly') return iso.slice(0, 7);
  return iso.slice(0, 4);
}

/** The keys of the `count` periods ending with the one of `today`, newest first. */
function lastPeriods(period: Period, today: Date, count: number): Set<string> {
  const keys = new Set<string>();
  for (let back = 0; keys.size < count; back++) {
    const date = new Date(today);
    if (period === 'daily') date.setUTCDate(date.getUTCDate() - back);
    else if (period === 'weekly') date.setUTCDate(date.getUTCDate() - 7 * back);
    else if (period === 'monthly') date.setUTCFullYear(today.getUTCFullYear(), today.getUTCMonth() - back, 1);
    else date.setUTCFullYear(today.getUTCFullYear() - back, 0, 1);
    keys.add(periodKey(period, date));
  }
  return keys;
}

/**
 * The fulls the calendar rules keep: for each rule, in each of its last N periods (the current one included, empty
 * ones counted), the newest full that stopped in that period. `fulls` oldest first, `now` in epoch seconds.
 */
export function calendarKept(
  fulls: readonly BackupRecord[],
  calendar: CalendarRetention,
  now: number,
): Set<string> {
  const format = zoneFormatter(calendar.timeZone, 'repo-retention-time-zone');
  const today = localDate(format, now);
  const kept = new Set<string>();
  for (const period of PERIODS) {
    const count = calendar[period];
    if (count === undefined) continue;
    const wanted = lastPeriods(period, today, count);
    const newestIn = new Map<string, string>();
    for (const full of fulls) {
      const key = periodKey(period, localDate(format, full.timestampStop));
      if (wanted.has(key)) newestIn.set(key, full.label);
    }
    for (const label of newestIn.values()) kept.add(label);
  }
  return kept;
}
