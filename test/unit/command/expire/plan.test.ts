// Tests for the retention plans: which backups count, time and diff retention expire (pins, dependents, the newest),
// and which WAL runs no retained backup needs, per timeline.
import { describe, expect, it } from 'vitest';
import { isPgStashError } from '../../../../src/common/errors.js';
import { planBackupExpiry, type RetentionPolicy } from '../../../../src/command/expire/backup-plan.js';
import {
  archiveRetentionBackup,
  keepRanges,
  walRunsToRemove,
} from '../../../../src/command/expire/wal-plan.js';
import type { BackupRecord, BackupType } from '../../../../src/repo/backup-info.js';

const DAY = 86_400;
const NOW = 1_800_000_000;

/** A backup record: `label` sorts by time; stop `daysAgo` days before NOW; WAL start/stop segment numbers. */
function record(
  label: string,
  type: BackupType,
  options: { prior?: string; daysAgo?: number; wal?: [number, number]; tl?: number; pinned?: boolean } = {},
): BackupRecord {
  const [start, stop] = options.wal ?? [1, 1];
  const seg = (n: number): string =>
    `${(options.tl ?? 1).toString(16).toUpperCase().padStart(8, '0')}00000000${n.toString(16).toUpperCase().padStart(8, '0')}`;
  return {
    label,
    type,
    ...(options.prior === undefined ? {} : { prior: options.prior }),
    timestampStart: NOW - (options.daysAgo ?? 0) * DAY - 60,
    timestampStop: NOW - (options.daysAgo ?? 0) * DAY,
    lsnStart: '0/0',
    lsnStop: '0/0',
    walStart: seg(start),
    walStop: seg(stop),
    compressType: 'zst',
    encrypted: false,
    archiveCopy: false,
    dbId: 1,
    size: 0,
    repoSize: 0,
    fileCount: 0,
    pageChecksumErrors: 0,
    ...(options.pinned === true ? { pinned: true } : {}),
  };
}

const COUNT = (full: number, more: Partial<RetentionPolicy> = {}): RetentionPolicy => ({
  full,
  fullType: 'count',
  archiveType: 'full',
  ...more,
});

// F1 <- I1 <- D1(F1) ; F2 <- D2 <- I2 ; F3
const F1 = record('20260101-000000F', 'full', { daysAgo: 30 });
const I1 = record('20260101-000000F_20260102-000000I', 'incr', { prior: F1.label, daysAgo: 29 });
const D1 = record('20260101-000000F_20260103-000000D', 'diff', { prior: F1.label, daysAgo: 28 });
const F2 = record('20260110-000000F', 'full', { daysAgo: 20 });
const D2 = record('20260110-000000F_20260111-000000D', 'diff', { prior: F2.label, daysAgo: 19 });
const I2 = record('20260110-000000F_20260112-000000I', 'incr', { prior: D2.label, daysAgo: 18 });
const F3 = record('20260120-000000F', 'full', { daysAgo: 10 });
const CHAIN = [F1, I1, D1, F2, D2, I2, F3];

const plan = (backups: readonly BackupRecord[], policy: RetentionPolicy, set?: string) =>
  planBackupExpiry(backups, policy, { now: NOW, repoName: 'repo1', set });

describe('planBackupExpiry', () => {
  it('count: expires the oldest fulls beyond retention-full, each with its dependents', () => {
    const result = plan(CHAIN, COUNT(2));
    expect(result.expired).toEqual([{ reason: 'full', labels: [F1.label, I1.label, D1.label] }]);
    expect(result.archiveRetention).toBe(2);
    expect(plan(CHAIN, COUNT(1)).expired.flatMap((set) => set.labels)).toEqual([
      F1.label,
      I1.label,
      D1.label,
      F2.label,
      D2.label,
      I2.label,
    ]);
    expect(plan(CHAIN, COUNT(3)).expired).toEqual([]);
  });

  it('time: keeps the fulls of the window and the newest full before it', () => {
    // 15 days: F3 (10 days) is inside; F2 (20 days) is the newest before the window and stays; F1 goes.
    const result = plan(CHAIN, { full: 15, fullType: 'time', archiveType: 'full' });
    expect(result.expired).toEqual([{ reason: 'time-based', labels: [F1.label, I1.label, D1.label] }]);
    expect(result.archiveRetention).toBe(2);
    // 5 days: F3 is the newest before the window: F1 and F2 go.
    expect(
      plan(CHAIN, { full: 5, fullType: 'time', archiveType: 'full' }).expired.map((set) => set.labels[0]),
    ).toEqual([F1.label, F2.label]);
    // 40 days: nothing stopped before the window, archive retention not met.
    const none = plan(CHAIN, { full: 40, fullType: 'time', archiveType: 'full' });
    expect(none.expired).toEqual([]);
    expect(none.archiveRetention).toBeUndefined();
  });

  it('diff: fulls count as differential; an expired diff takes its incrementals', () => {
    // Full and diff, oldest first: F1 D1 F2 D2 F3; keep 2 -> F2? no: D2 and F3; D1 expires (fulls are skipped).
    const result = plan(CHAIN, COUNT(9, { diff: 2 }));
    expect(result.expired).toEqual([{ reason: 'diff', labels: [D1.label] }]);
    const more = plan(CHAIN, COUNT(9, { diff: 1 }));
    expect(more.expired).toEqual([
      { reason: 'diff', labels: [D1.label] },
      { reason: 'diff', labels: [D2.label, I2.label] },
    ]);
  });

  it('a pinned backup and its prior chain are kept; a full whose dependent is pinned stays whole', () => {
    const pinnedI2 = { ...I2, pinned: true };
    const backups = [F1, I1, D1, F2, D2, pinnedI2, F3];
    const result = plan(backups, COUNT(1));
    expect(result.expired.flatMap((set) => set.labels)).toEqual([F1.label, I1.label, D1.label]);
    expect(result.keptPinned).toEqual([F2.label, D2.label, I2.label]);
    expect(() => plan(backups, COUNT(1), D2.label)).toThrow(/pinned backup depends on it/);
  });

  it('never expires the newest backup, nor anything without retention-full (with the warning)', () => {
    const lonely = [F1, I1];
    expect(() => plan(lonely, COUNT(1), F1.label)).toThrow(/newest backup/);
    const unset = plan(CHAIN, { fullType: 'count', archiveType: 'full' });
    expect(unset.expired).toEqual([]);
    expect(unset.warnings[0]).toMatch(/^option 'repo1-retention-full' is not set/);
  });

  it('--set expires that backup with its dependents; a missing one is backupSetInvalid', () => {
    expect(plan(CHAIN, COUNT(9), D2.label).expired).toEqual([
      { reason: 'adhoc', labels: [D2.label, I2.label] },
    ]);
    let error: unknown;
    try {
      plan(CHAIN, COUNT(9), '20200101-000000F');
    } catch (caught) {
      error = caught;
    }
    expect(isPgStashError(error, 'backupSetInvalid')).toBe(true);
  });
});

describe('WAL plan', () => {
  const seg = (tl: number, n: number): string =>
    `${tl.toString(16).toUpperCase().padStart(8, '0')}00000000${n.toString(16).toUpperCase().padStart(8, '0')}`;

  it('archive retention picks the oldest of the newest N counted backups', () => {
    const a = record('20260101-000000F', 'full', { wal: [2, 3] });
    const b = record('20260101-000000F_20260102-000000D', 'diff', { prior: a.label, wal: [5, 5] });
    const c = record('20260105-000000F', 'full', { wal: [8, 9] });
    const all = [a, b, c];
    expect(archiveRetentionBackup(all, all, 1, 'full')?.label).toBe(c.label);
    expect(archiveRetentionBackup(all, all, 2, 'diff')?.label).toBe(b.label);
    expect(archiveRetentionBackup(all, all, 2, 'full')?.label).toBe(a.label);
    expect(archiveRetentionBackup(all, all, 3, 'full')).toBeUndefined();
  });

  it('keeps the retention backup on, and the start to stop of older backups', () => {
    const a = record('20260101-000000F', 'full', { wal: [2, 3] });
    const c = record('20260105-000000F', 'full', { wal: [8, 9] });
    const segments = Array.from({ length: 12 }, (_, n) => seg(1, n + 1));
    expect(walRunsToRemove(segments, keepRanges([a, c], c))).toEqual([
      { from: seg(1, 1), to: seg(1, 1) },
      { from: seg(1, 4), to: seg(1, 7) },
    ]);
  });

  it('never crosses a timeline, and keeps a newer backup on a lower timeline', () => {
    // Retention backup on timeline 2 from segment 6; an older backup 2..3 on timeline 1; a newer backup taken on
    // timeline 1 (after a failover) from segment 9.
    const old = record('20260101-000000F', 'full', { wal: [2, 3] });
    const anchor = record('20260105-000000F', 'full', { wal: [6, 6], tl: 2 });
    const late = record('20260106-000000F', 'full', { wal: [9, 9] });
    const segments = [
      ...Array.from({ length: 10 }, (_, n) => seg(1, n + 1)),
      ...Array.from({ length: 6 }, (_, n) => seg(2, n + 4)),
    ].sort();
    expect(walRunsToRemove(segments, keepRanges([old, anchor, late], anchor))).toEqual([
      { from: seg(1, 1), to: seg(1, 1) },
      { from: seg(1, 4), to: seg(1, 8) },
    ]);
    // Only the retention backup's open range (pgBackRest's ranges) would take timeline 1 from 9 on, which the late
    // backup needs; and timeline 2 below 6, which nothing needs once the late backup is gone.
    expect(walRunsToRemove(segments, keepRanges([old, anchor], anchor))).toEqual([
      { from: seg(1, 1), to: seg(1, 1) },
      { from: seg(1, 4), to: seg(1, 10) },
      { from: seg(2, 4), to: seg(2, 5) },
    ]);
  });
});

describe('calendar retention', () => {
  // NOW is 2027-01-15 08:00:00 UTC (a Friday).
  const at = (iso: string): number => Date.parse(iso) / 1000;
  const now = at('2027-01-15T08:00:00Z');
  const full = (label: string, stop: string): BackupRecord => ({
    ...record(label, 'full'),
    timestampStart: at(stop) - 60,
    timestampStop: at(stop),
  });
  // Two fulls a day on Jan 13-15, one on Jan 4 (ISO week 1), Dec 20 and Nov 30 2026, Jun 1 2025.
  const fulls = [
    full('20250601-000000F', '2025-06-01T00:00:00Z'),
    full('20261130-000000F', '2026-11-30T00:00:00Z'),
    full('20261220-000000F', '2026-12-20T00:00:00Z'),
    full('20270104-000000F', '2027-01-04T00:00:00Z'),
    full('20270113-010000F', '2027-01-13T01:00:00Z'),
    full('20270113-200000F', '2027-01-13T20:00:00Z'),
    full('20270114-010000F', '2027-01-14T01:00:00Z'),
    full('20270114-230000F', '2027-01-14T23:30:00Z'),
    full('20270115-010000F', '2027-01-15T01:00:00Z'),
    full('20270115-070000F', '2027-01-15T07:00:00Z'),
  ];
  const kept = (calendar: Partial<RetentionPolicy['calendar']>, extra: Partial<RetentionPolicy> = {}) => {
    const policy: RetentionPolicy = {
      fullType: 'count',
      archiveType: 'full',
      calendar: { timeZone: 'UTC', ...calendar },
      ...extra,
    };
    const gone = new Set(
      planBackupExpiry(fulls, policy, { now, repoName: 'repo1' }).expired.flatMap((set) => set.labels),
    );
    return fulls.map((backup) => backup.label).filter((label) => !gone.has(label));
  };

  it('daily keeps the newest full of each of the last N days (today included)', () => {
    expect(kept({ daily: 2 })).toEqual(['20270114-230000F', '20270115-070000F']);
    expect(kept({ daily: 3 })).toEqual(['20270113-200000F', '20270114-230000F', '20270115-070000F']);
  });

  it('in a time zone: 23:30 UTC on the 14th is the 15th in Paris', () => {
    expect(kept({ daily: 2, timeZone: 'Europe/Paris' })).toEqual(['20270114-010000F', '20270115-070000F']);
  });

  it('weekly (ISO weeks), monthly and yearly, and the rules add up with the count', () => {
    // Weeks 2027-W02 (Jan 11-17) and W01 (Jan 4-10).
    expect(kept({ weekly: 2 })).toEqual(['20270104-000000F', '20270115-070000F']);
    expect(kept({ monthly: 3 })).toEqual(['20261130-000000F', '20261220-000000F', '20270115-070000F']);
    expect(kept({ yearly: 3 })).toEqual(['20250601-000000F', '20261220-000000F', '20270115-070000F']);
    expect(kept({ monthly: 2 }, { full: 2 })).toEqual([
      '20261220-000000F',
      '20270115-010000F',
      '20270115-070000F',
    ]);
  });

  it('an unknown time zone is 32 naming the option', () => {
    let error: unknown;
    try {
      kept({ daily: 1, timeZone: 'Mars/Olympus' });
    } catch (caught) {
      error = caught;
    }
    expect(isPgStashError(error, 'optionInvalidValue')).toBe(true);
    expect(String(error)).toContain('repo-retention-time-zone');
  });
});
