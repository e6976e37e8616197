// The recovery target time parser: the forms DBAs write, DST gaps and overlaps, bad input, and PostgreSQL's own reading.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgStashError } from '../../../src/common/errors.js';
import {
  formatInstant,
  parseRecoveryTime,
  resolveRecoveryTime,
  type ClusterTimeSettings,
} from '../../../src/postgres/recovery-time.js';
import { PgCluster } from '../../harness/cluster.js';
import { removeAllTempDirs } from '../../harness/tmp.js';

const NEW_YORK: ClusterTimeSettings = { timezone: 'America/New_York', timezoneAbbreviations: 'Default' };

/** Epoch microseconds of a target as restore resolves it for a cluster with `settings`. */
function instant(target: string, settings: ClusterTimeSettings = NEW_YORK): number {
  return resolveRecoveryTime(parseRecoveryTime(target), settings).micros;
}

const utc = (...fields: [number, number, number, number, number, number?]): number =>
  Date.UTC(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5] ?? 0) * 1000;

function refusal(target: string, settings: ClusterTimeSettings = NEW_YORK): Error {
  try {
    instant(target, settings);
  } catch (error) {
    expect(isPgStashError(error, 'optionInvalidValue'), String(error)).toBe(true);
    expect((error as Error).message).toContain(`--target '${target}'`);
    return error as Error;
  }
  throw new Error(`'${target}' was accepted`);
}

describe('recovery target time', () => {
  it('reads offsets, Z, T, fractions and month names', () => {
    expect(instant('2026-11-21 10:15:00+00')).toBe(utc(2026, 11, 21, 10, 15));
    expect(instant('2026-11-21T10:15:00Z')).toBe(utc(2026, 11, 21, 10, 15));
    expect(instant('2026-11-21 10:15:00+01:00')).toBe(utc(2026, 11, 21, 9, 15));
    expect(instant('2026-11-21 10:15:00 -0530')).toBe(utc(2026, 11, 21, 15, 45));
    expect(instant('2026-11-21 10:15:00.123456+00')).toBe(utc(2026, 11, 21, 10, 15) + 123456);
    expect(instant('2026-11-21 10:15:00.5+00')).toBe(utc(2026, 11, 21, 10, 15) + 500000);
    expect(instant('Dec 06 2026 10:15:00 UTC')).toBe(utc(2026, 12, 6, 10, 15));
    expect(instant('Sun Dec 06 10:15:00 2026 UTC')).toBe(utc(2026, 12, 6, 10, 15));
    expect(instant('06 December 2026 10:15 +00')).toBe(utc(2026, 12, 6, 10, 15));
    expect(instant('2026-11-21 24:00:00+00')).toBe(utc(2026, 11, 22, 0, 0));
  });

  it('reads zone names through the tz data and abbreviations as PostgreSQL defines them', () => {
    expect(instant('2026-11-21 10:15:00 Europe/Paris')).toBe(utc(2026, 11, 21, 9, 15));
    expect(instant('2026-07-21 10:15:00 europe/paris')).toBe(utc(2026, 7, 21, 8, 15));
    expect(instant('2026-11-21 10:15:00 UTC')).toBe(utc(2026, 11, 21, 10, 15));
    // EST is -05 all year, even in July (PostgreSQL takes the abbreviation before the zone name).
    expect(instant('2026-07-21 10:15:00 EST')).toBe(utc(2026, 7, 21, 15, 15));
    expect(instant('2026-07-21 10:15:00 PDT')).toBe(utc(2026, 7, 21, 17, 15));
  });

  it("reads a zone-less time in the cluster's timezone, not the process's", () => {
    expect(instant('2026-11-21 10:15:00')).toBe(utc(2026, 11, 21, 15, 15));
    expect(instant('2026-07-21 10:15:00')).toBe(utc(2026, 7, 21, 14, 15));
    expect(instant('Dec 06 2026 10:15:00')).toBe(utc(2026, 12, 6, 15, 15));
    expect(instant('2026-07-21 10:15:00', { timezone: 'Asia/Kolkata' })).toBe(utc(2026, 7, 21, 4, 45));
  });

  it('writes the instant with an explicit UTC offset and prints it in the cluster zone', () => {
    const resolved = resolveRecoveryTime(parseRecoveryTime('2026-11-21 10:15:00.25'), NEW_YORK);
    expect(resolved.setting).toBe('2026-11-21 15:15:00.250000+00');
    expect(formatInstant(resolved.micros, 'America/New_York')).toBe('2026-11-21 10:15:00.250000-05');
    expect(formatInstant(resolved.micros, 'Asia/Kolkata')).toBe('2026-11-21 20:45:00.250000+05:30');
  });

  it('refuses a local time in a DST gap or overlap, saying which offsets to write', () => {
    // 2026-03-08 02:30 does not exist in New York; 2026-11-01 01:30 happens twice.
    expect(refusal('2026-03-08 02:30:00').message).toMatch(/does not exist in America\/New_York/);
    expect(refusal('2026-03-08 02:30:00').message).toMatch(/-05 to -04/);
    const twice = refusal('2026-11-01 01:30:00');
    expect(twice.message).toMatch(/happens twice/);
    expect((twice as { hint?: string }).hint).toContain(
      "'2026-11-01 01:30:00-04' or '2026-11-01 01:30:00-05'",
    );
    expect(refusal('2026-03-29 02:30:00 Europe/Paris').message).toMatch(/does not exist/);
    // Just outside the edges, and with an offset inside them, it is exact.
    expect(instant('2026-03-08 01:59:59')).toBe(utc(2026, 3, 8, 6, 59, 59));
    expect(instant('2026-03-08 03:00:00')).toBe(utc(2026, 3, 8, 7, 0));
    expect(instant('2026-11-01 01:30:00-04')).toBe(utc(2026, 11, 1, 5, 30));
    expect(instant('2026-11-01 01:30:00-05')).toBe(utc(2026, 11, 1, 6, 30));
  });

  it('refuses what it cannot resolve exactly', () => {
    for (const target of [
      'now',
      'yesterday',
      '12/06/2026 10:15:00',
      '2026-02-30 10:00:00+00',
      '2026-13-01 10:00:00+00',
      '2026-11-21 25:00:00+00',
      '2026-11-21 10:60:00+00',
      '2026-11-21 10:15:00+16',
      '2026-11-21 10:15:00.1234567+00',
      '2026-11-21 10:15:00 Mars/Olympus_Mons',
      '2026-11-21 10:15:00 IST',
      'Mon Dec 06 10:15:00 2026 UTC',
      '2026-11-21 10:15:00 +00 extra',
    ]) {
      refusal(target);
    }
    // Without a recorded timezone, a zone-less time has no meaning yet; an explicit zone still works.
    expect(refusal('2026-11-21 10:15:00', {}).message).toMatch(/does not record the cluster's timezone/);
    expect(instant('2026-11-21 10:15:00+00', {})).toBe(utc(2026, 11, 21, 10, 15));
    // An abbreviation other than UTC's depends on timezone_abbreviations.
    expect(
      refusal('2026-11-21 10:15:00 EST', { timezone: 'UTC', timezoneAbbreviations: 'Australia' }).message,
    ).toMatch(/timezone_abbreviations/);
    expect(refusal('2026-11-21 10:15:00', { timezone: '<-03>3' }).message).toMatch(/not a tz database zone/);
  });

  it("keeps the abbreviations exactly as PostgreSQL's Default set has them", () => {
    const file = '/usr/share/postgresql/15/timezonesets/Default';
    if (!existsSync(file)) return;
    const lines = readFileSync(file, 'utf8').split('\n');
    for (const name of [
      'EST',
      'EDT',
      'CST',
      'PST',
      'PDT',
      'CET',
      'CEST',
      'BST',
      'JST',
      'NST',
      'ACST',
      'NZDT',
    ]) {
      const line = lines.find((entry) => entry.startsWith(`${name} `));
      const seconds = Number(line?.trim().split(/\s+/)[1]);
      expect(instant(`2026-01-01 00:00:00 ${name}`), name).toBe(utc(2026, 1, 1, 0, 0) - seconds * 1_000_000);
    }
  });
});

describe('recovery target time against PostgreSQL', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await PgCluster.create();
    await cluster.start();
  });
  afterAll(async () => {
    await cluster?.destroy();
    await removeAllTempDirs();
  });

  it('means the instant PostgreSQL means, and PostgreSQL reads back what restore writes', async () => {
    const targets = [
      '2026-11-21 10:15:00',
      '2026-07-21 10:15:00.123456',
      '2026-11-21T10:15:00Z',
      '2026-11-21 10:15:00+01:00',
      '2026-11-21 10:15:00 Europe/Paris',
      '2026-07-21 10:15:00 EST',
      '2026-07-21 10:15:00 PDT',
      'Dec 06 2026 10:15:00',
      '2026-03-08 03:00:00',
      '2026-11-01 01:30:00-05',
      '2026-11-21 10:15:00 Etc/GMT+5',
      'Sun Dec 06 10:15:00 2026 EST',
      '06 December 2026 10:15',
      '2026-11-21 24:00:00',
      '2016-12-31 23:59:60+00',
      '2026-11-21',
      '2026-07-21 10:15:00 CET',
      '2026-07-21 10:15:00 Asia/Kolkata',
    ];
    for (const zone of ['America/New_York', 'Asia/Kolkata', 'UTC']) {
      const settings = { timezone: zone, timezoneAbbreviations: 'Default' };
      for (const target of targets) {
        const resolved = resolveRecoveryTime(parseRecoveryTime(target), settings);
        const [theirs, written] = (
          await cluster.psql(
            `set timezone = '${zone}'; select (extract(epoch from '${target}'::timestamptz) * 1000000)::bigint, ` +
              `(extract(epoch from '${resolved.setting}'::timestamptz) * 1000000)::bigint`,
          )
        ).split('|');
        expect(Number(theirs), `${target} in ${zone}`).toBe(resolved.micros);
        expect(Number(written), `${resolved.setting} written for ${target}`).toBe(resolved.micros);
      }
    }
  });
});
