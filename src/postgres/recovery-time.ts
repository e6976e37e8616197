// recovery_target_time as PostgreSQL reads it: the one parser for backup selection and the recovery settings.
import { fail } from '../common/errors.js';

/** Where the zone of a target time comes from. */
export type TimeZoneSpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'offset'; readonly seconds: number }
  | { readonly kind: 'abbreviation'; readonly name: string; readonly seconds: number }
  | { readonly kind: 'name'; readonly name: string };

/** A target time as written, checked field by field, its zone not yet applied. */
export interface ParsedTime {
  readonly text: string;
  /** The wall-clock time read as if it were UTC, in epoch microseconds. */
  readonly wallMicros: number;
  readonly zone: TimeZoneSpec;
}

/** What PostgreSQL reads a zone-less time or an abbreviation with: the restored server's settings. */
export interface ClusterTimeSettings {
  /** The `timezone` setting; undefined when unknown (a backup taken before pgstash recorded it). */
  readonly timezone?: string | undefined;
  /** The `timezone_abbreviations` setting ('Default' unless changed); undefined when unknown. */
  readonly timezoneAbbreviations?: string | undefined;
}

export interface ResolvedTime {
  /** Epoch microseconds. */
  readonly micros: number;
  /** The instant with an explicit UTC offset, read as the same instant whatever the server's settings. */
  readonly setting: string;
  /** How the zone was decided, for messages: "America/New_York, the cluster's timezone". */
  readonly zoneSource: string;
}

/**
 * Abbreviations of PostgreSQL's Default set (share/timezonesets/Default) with a fixed offset, in seconds east of
 * UTC. Those PostgreSQL defines by a zone (MSK) and those whose meaning differs between its sets and among DBAs
 * (IST: Israel in Default, India in the India set) are left out: refused, with a hint to write an offset.
 */
const ABBREVIATIONS: Readonly<Record<string, number>> = {
  UTC: 0,
  UT: 0,
  GMT: 0,
  Z: 0,
  ZULU: 0,
  EST: -18000,
  EDT: -14400,
  CST: -21600,
  CDT: -18000,
  MST: -25200,
  MDT: -21600,
  PST: -28800,
  PDT: -25200,
  AKST: -32400,
  AKDT: -28800,
  HST: -36000,
  AST: -14400,
  ADT: -10800,
  NST: -12600,
  NDT: -9000,
  WET: 0,
  BST: 3600,
  CET: 3600,
  CEST: 7200,
  MET: 3600,
  MEST: 7200,
  EET: 7200,
  EEST: 10800,
  JST: 32400,
  KST: 32400,
  HKT: 28800,
  AEST: 36000,
  AEDT: 39600,
  ACST: 34200,
  ACDT: 37800,
  AWST: 28800,
  NZST: 43200,
  NZDT: 46800,
  SAST: 7200,
  WAT: 3600,
  EAT: 10800,
};
/** Abbreviations for UTC in every one of PostgreSQL's abbreviation sets. */
const UNIVERSAL = new Set(['UTC', 'UT', 'GMT', 'Z', 'ZULU']);

/** Fixed-offset or zone names of the tz database without a '/' (the JavaScript runtime also knows ICU's
 *  legacy ids such as 'PST' or 'IST', which PostgreSQL does not). */
const TOP_LEVEL_ZONES = new Set(
  (
    'CET CST6CDT Cuba EET EST EST5EDT Egypt Eire Factory GB GB-Eire GMT GMT+0 GMT-0 GMT0 Greenwich HST Hongkong ' +
    'Iceland Iran Israel Jamaica Japan Kwajalein Libya MET MST MST7MDT NZ NZ-CHAT Navajo PRC PST8PDT Poland ' +
    'Portugal ROC ROK Singapore Turkey UCT UTC Universal W-SU WET Zulu'
  )
    .toLowerCase()
    .split(' '),
);

const MONTHS = 'january february march april may june july august september october november december'.split(
  ' ',
);
const WEEKDAYS = 'sunday monday tuesday wednesday thursday friday saturday'.split(' ');

/** Index of a name given in full or shortened to three letters or more ('Dec', 'Sept', 'December'). */
function nameIndex(names: readonly string[], given: string): number {
  const lower = given.toLowerCase();
  return lower.length < 3 ? -1 : names.findIndex((name) => name.startsWith(lower));
}

const TIME = String.raw`(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?`;
const ZONE = String.raw`(?:\s*([+-][\d:]+|[A-Za-z][A-Za-z0-9_/+-]*))?`;
/** '2026-11-21 10:15:00.5+01:00', 'T' between date and time, or a date alone (midnight). */
const ISO = new RegExp(String.raw`^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:\s+|T)${TIME})?${ZONE}$`, 'i');
/** 'Dec 06 2026 10:15:00', 'Sun Dec 06 10:15:00 2026 EST' (PostgreSQL's own 'Postgres' output style). */
const MONTH_FIRST = new RegExp(
  String.raw`^(?:([A-Za-z]+),?\s+)?([A-Za-z]+)\s+(\d{1,2}),?\s+(?:(\d{4})\s+${TIME}|${TIME}\s+(\d{4}))${ZONE}$`,
);
/** '06 Dec 2026 10:15:00'. */
const DAY_FIRST = new RegExp(
  String.raw`^(?:([A-Za-z]+),?\s+)?(\d{1,2})\s+([A-Za-z]+)\s+(\d{4})\s+${TIME}${ZONE}$`,
);

const EXAMPLE = "'2026-11-21 10:15:00+00', '2026-11-21 10:15:00 Europe/Paris' or '2026-11-21 10:15:00'";

function invalid(text: string, reason: string, hint?: string): never {
  fail('optionInvalidValue', `invalid --target '${text}' for --type=time: ${reason}`, {
    hint: hint ?? `write a PostgreSQL timestamp such as ${EXAMPLE} (the last in the cluster's timezone)`,
  });
}

function monthIndex(name: string): number | undefined {
  const index = nameIndex(MONTHS, name);
  return index < 0 ? undefined : index + 1;
}

interface Fields {
  year: number;
  month: number;
  day: number;
  hour: string | undefined;
  minute: string | undefined;
  second: string | undefined;
  fraction: string | undefined;
  weekday: string | undefined;
  zone: string | undefined;
}

function matchFields(text: string): Fields | undefined {
  let match = ISO.exec(text);
  if (match !== null) {
    const [, year, month, day, hour, minute, second, fraction, zone] = match;
    return {
      year: Number(year),
      month: Number(month),
      day: Number(day),
      hour,
      minute,
      second,
      fraction,
      weekday: undefined,
      zone,
    };
  }
  match = MONTH_FIRST.exec(text);
  if (match !== null) {
    const [, weekday, monthName, day, year1, h1, m1, s1, f1, h2, m2, s2, f2, year2, zone] = match;
    const month = monthIndex(monthName ?? '');
    if (month === undefined) return undefined;
    return {
      year: Number(year1 ?? year2),
      month,
      day: Number(day),
      hour: h1 ?? h2,
      minute: m1 ?? m2,
      second: s1 ?? s2,
      fraction: f1 ?? f2,
      weekday,
      zone,
    };
  }
  match = DAY_FIRST.exec(text);
  if (match !== null) {
    const [, weekday, day, monthName, year, hour, minute, second, fraction, zone] = match;
    const month = monthIndex(monthName ?? '');
    if (month === undefined) return undefined;
    return { year: Number(year), month, day: Number(day), hour, minute, second, fraction, weekday, zone };
  }
  return undefined;
}

function parseZone(text: string, zone: string | undefined): TimeZoneSpec {
  if (zone === undefined) return { kind: 'none' };
  const offset = /^([+-])(\d{1,2})(?::?(\d{2})(?::?(\d{2}))?)?$/.exec(zone);
  if (offset !== null) {
    const [, sign, hours, minutes, seconds] = offset;
    const total = Number(hours) * 3600 + Number(minutes ?? 0) * 60 + Number(seconds ?? 0);
    // PostgreSQL's limit for a UTC offset: 15:59:59.
    if (Number(hours) > 15 || Number(minutes ?? 0) > 59 || Number(seconds ?? 0) > 59) {
      invalid(text, `'${zone}' is not a valid UTC offset`);
    }
    return { kind: 'offset', seconds: sign === '-' ? -total : total };
  }
  if (zone.startsWith('+') || zone.startsWith('-')) invalid(text, `'${zone}' is not a valid UTC offset`);
  const upper = zone.toUpperCase();
  // PostgreSQL looks a word up as an abbreviation first, then as a zone name (so 'EST' is -05 all year).
  const abbreviation = ABBREVIATIONS[upper];
  if (abbreviation !== undefined) return { kind: 'abbreviation', name: upper, seconds: abbreviation };
  if ((zone.includes('/') || TOP_LEVEL_ZONES.has(zone.toLowerCase())) && isRuntimeZone(zone)) {
    return { kind: 'name', name: zone };
  }
  return invalid(
    text,
    `unknown or ambiguous time zone '${zone}'`,
    `name a zone of the tz database ('Europe/Paris', 'America/New_York', 'UTC') or write an explicit UTC offset, e.g. '2026-11-21 10:15:00+01'`,
  );
}

function isRuntimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads a recovery target time in the forms DBAs give PostgreSQL: ISO ('2026-11-21 10:15:00', a 'T' separator,
 * fractional seconds up to microseconds, an offset '+01', '+01:00', '-0530' or 'Z', a zone name 'Europe/Paris'
 * or an abbreviation 'EST') and month names ('Dec 06 2026 10:15:00', 'Sun Dec 06 10:15:00 2026 PST'). Fields are
 * checked as PostgreSQL checks them (no 30 February; 24:00:00 and second 60 roll over). Forms whose meaning
 * depends on DateStyle ('12/06/2026') and words such as 'now' are refused (32), naming --target and the value.
 */
export function parseRecoveryTime(target: string): ParsedTime {
  const text = target.trim();
  if (/^(now|today|tomorrow|yesterday|epoch|infinity|-infinity)$/i.test(text)) {
    invalid(target, `'${text}' is not a fixed point in time`);
  }
  const fields = matchFields(text);
  if (fields === undefined) {
    invalid(
      target,
      'not a timestamp pgstash reads exactly',
      `write it as ${EXAMPLE} (numeric dates such as 12/06/2026 depend on DateStyle)`,
    );
  }
  const hour = Number(fields.hour ?? 0);
  const minute = Number(fields.minute ?? 0);
  const second = Number(fields.second ?? 0);
  const { year, month, day } = fields;
  if (fields.fraction !== undefined && fields.fraction.length > 6) {
    invalid(target, 'more than 6 fractional digits', 'PostgreSQL keeps microseconds: give at most 6 digits');
  }
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const valid =
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    minute <= 59 &&
    second <= 60 &&
    (hour <= 23 || (hour === 24 && minute === 0 && second === 0 && Number(fields.fraction ?? 0) === 0));
  if (!valid) invalid(target, 'no such date or time');
  const micro = Number((fields.fraction ?? '').padEnd(6, '0'));
  // Date.UTC rolls 24:00:00 and second 60 over into the next day or minute, as PostgreSQL does.
  const wallMicros = Date.UTC(year, month - 1, day, hour, minute, second) * 1000 + micro;
  if (Number.isNaN(wallMicros)) invalid(target, 'no such date or time');
  if (fields.weekday !== undefined) {
    const weekday = nameIndex(WEEKDAYS, fields.weekday);
    const actual = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
    if (weekday !== actual) invalid(target, `${year}-${month}-${day} is not a ${fields.weekday}`);
  }
  return { text: target, wallMicros, zone: parseZone(target, fields.zone) };
}

/** Seconds east of UTC in `zone` at epoch milliseconds `ms`, from the runtime's tz data (Intl). */
export function zoneOffsetAt(zone: string, ms: number): number {
  const parts = formatterFor(zone).formatToParts(new Date(ms));
  const value = (type: string): number => Number(parts.find((part) => part.type === type)?.value ?? 0);
  const era = parts.find((part) => part.type === 'era')?.value;
  const year = era === 'BC' ? 1 - value('year') : value('year');
  const wall = Date.UTC(
    year,
    value('month') - 1,
    value('day'),
    value('hour'),
    value('minute'),
    value('second'),
  );
  return Math.round((wall - Math.floor(ms / 1000) * 1000) / 1000);
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

/** '+01', '-05', '+05:30': an offset as PostgreSQL prints it. */
export function formatOffset(seconds: number): string {
  const sign = seconds < 0 ? '-' : '+';
  const abs = Math.abs(seconds);
  const hours = String(Math.floor(abs / 3600)).padStart(2, '0');
  const minutes = Math.floor((abs % 3600) / 60);
  const rest = abs % 60;
  let text = `${sign}${hours}`;
  if (minutes !== 0 || rest !== 0) text += `:${String(minutes).padStart(2, '0')}`;
  if (rest !== 0) text += `:${String(rest).padStart(2, '0')}`;
  return text;
}

/** '2026-11-21 10:15:00[.123456]' for a wall-clock time in epoch microseconds (read as UTC). */
function formatWall(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString(); // 2026-11-21T10:15:00.123Z
  const fraction = micros - Math.floor(micros / 1_000_000) * 1_000_000;
  const text = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  return fraction === 0 ? text : `${text}.${String(fraction).padStart(6, '0')}`;
}

/** An instant as PostgreSQL prints a timestamptz in `zone` (UTC when undefined): '2026-11-21 10:15:00-05'. */
export function formatInstant(micros: number, zone?: string): string {
  const offset = zone === undefined ? 0 : zoneOffsetAt(zone, Math.floor(micros / 1000));
  return `${formatWall(micros + offset * 1_000_000)}${formatOffset(offset)}`;
}

/** The instants at which the wall time `wallMicros` happens in `zone`: none (a gap), one, or two (an overlap). */
function instantsOf(zone: string, wallMicros: number): { instants: number[]; before: number; after: number } {
  const wallMs = Math.floor(wallMicros / 1000);
  const day = 86_400_000;
  const before = zoneOffsetAt(zone, wallMs - day);
  const after = zoneOffsetAt(zone, wallMs + day);
  const candidates = new Set([before, after, zoneOffsetAt(zone, wallMs)]);
  const instants: number[] = [];
  for (const offset of candidates) {
    const micros = wallMicros - offset * 1_000_000;
    if (zoneOffsetAt(zone, Math.floor(micros / 1000)) === offset) instants.push(micros);
  }
  return { instants: instants.sort((a, b) => a - b), before, after };
}

/**
 * The instant a parsed time stands for on a server with `settings`, as PostgreSQL's timestamptz_in reads it:
 * an offset or abbreviation as given, a zone name or no zone (the cluster's `timezone`) through the tz data.
 * A local time that does not exist in its zone (spring forward) or exists twice (fall back) is refused with the
 * offsets to write instead; so is a zone-less time when the cluster's timezone is unknown.
 */
export function resolveRecoveryTime(parsed: ParsedTime, settings: ClusterTimeSettings): ResolvedTime {
  const { text, zone, wallMicros } = parsed;
  const done = (micros: number, zoneSource: string): ResolvedTime => ({
    micros,
    setting: formatInstant(micros),
    zoneSource,
  });
  switch (zone.kind) {
    case 'offset':
      return done(wallMicros - zone.seconds * 1_000_000, `UTC offset ${formatOffset(zone.seconds)}`);
    case 'abbreviation': {
      const set = settings.timezoneAbbreviations;
      if (!UNIVERSAL.has(zone.name) && set?.toLowerCase() !== 'default') {
        invalid(
          text,
          `the abbreviation '${zone.name}' depends on the cluster's timezone_abbreviations, which is ${set === undefined ? 'not recorded in this backup' : `'${set}'`}`,
          `write an explicit UTC offset instead, e.g. '${formatWall(wallMicros)}${formatOffset(zone.seconds)}'`,
        );
      }
      return done(
        wallMicros - zone.seconds * 1_000_000,
        `abbreviation ${zone.name} (${formatOffset(zone.seconds)})`,
      );
    }
    case 'name':
      return inZone(parsed, zone.name, zone.name);
    case 'none': {
      const clusterZone = settings.timezone;
      if (clusterZone === undefined) {
        invalid(
          text,
          "no time zone given, and the backup does not record the cluster's timezone (it was taken by an earlier pgstash)",
          `give the zone, e.g. '${formatWall(wallMicros)}+00' or '${formatWall(wallMicros)} America/New_York', or name the restored server's timezone with --recovery-option=timezone=<zone>`,
        );
      }
      if (!isRuntimeZone(clusterZone)) {
        invalid(
          text,
          `no time zone given, and the cluster's timezone '${clusterZone}' is not a tz database zone pgstash can convert exactly`,
          `give the time with an explicit UTC offset, e.g. '${formatWall(wallMicros)}+00'`,
        );
      }
      return inZone(parsed, clusterZone, `${clusterZone}, the cluster's timezone`);
    }
  }
}

function inZone(parsed: ParsedTime, zone: string, zoneSource: string): ResolvedTime {
  const { instants, before, after } = instantsOf(zone, parsed.wallMicros);
  const wall = formatWall(parsed.wallMicros);
  if (instants.length === 0) {
    invalid(
      parsed.text,
      `${wall} does not exist in ${zone} (the clocks jumped from ${formatOffset(before)} to ${formatOffset(after)})`,
      `give the instant you mean with an explicit UTC offset, e.g. '${wall}${formatOffset(before)}' or '${wall}${formatOffset(after)}'`,
    );
  }
  if (instants.length > 1) {
    const offsets = instants.map((micros) => formatOffset((parsed.wallMicros - micros) / 1_000_000));
    invalid(
      parsed.text,
      `${wall} happens twice in ${zone} (at ${offsets.join(' and then at ')})`,
      `say which with an explicit UTC offset: ${offsets.map((offset) => `'${wall}${offset}'`).join(' or ')}`,
    );
  }
  const micros = instants[0] as number;
  return { micros, setting: formatInstant(micros), zoneSource };
}
