// Choosing the backup set for a restore target.
import { describe, expect, it } from 'vitest';
import { selectBackup, widenXid } from '../../../src/command/restore/select-backup.js';
import type { BackupRecord } from '../../../src/repo/backup-info.js';

function backup(
  label: string,
  stop: string,
  lsnStop: string,
  recorded: Partial<BackupRecord> = {},
): BackupRecord {
  const seconds = Date.parse(stop) / 1000;
  return {
    label,
    type: 'full',
    timestampStart: seconds - 60,
    timestampStop: seconds,
    lsnStart: '0/1000000',
    lsnStop,
    walStart: '',
    walStop: '',
    dbId: 1,
    size: 0,
    repoSize: 0,
    fileCount: 0,
    compressType: 'zst',
    encrypted: false,
    archiveCopy: false,
    pageChecksumErrors: 0,
    ...recorded,
  };
}

const BACKUPS = [
  backup('20261121-090000F', '2026-11-21T09:01:00Z', '0/3000100'),
  backup('20261121-100000F', '2026-11-21T10:01:00Z', '0/5000100'),
  backup('20261121-110000F', '2026-11-21T11:01:00Z', '0/7000100'),
];

describe('selectBackup', () => {
  it('defaults to the newest, and latest means the same', () => {
    expect(selectBackup(BACKUPS, { type: 'default' }).backup.label).toBe('20261121-110000F');
    expect(selectBackup(BACKUPS, { type: 'default', set: 'latest' }).backup.label).toBe('20261121-110000F');
  });

  it('takes --set, and refuses a set that does not exist with 75', () => {
    expect(selectBackup(BACKUPS, { type: 'default', set: '20261121-090000F' }).backup.label).toBe(
      '20261121-090000F',
    );
    expect(() => selectBackup(BACKUPS, { type: 'default', set: '20261121-093000F' })).toThrowError(
      /backup set '20261121-093000F' is not valid/,
    );
  });

  it('with --set, refuses an lsn target before that set stopped (75), and notes a time target before its end', () => {
    const set = '20261121-100000F';
    expect(() => selectBackup(BACKUPS, { type: 'lsn', set, target: '0/4000000' })).toThrowError(
      /backup set 20261121-100000F stopped at lsn 0\/5000100, after target '0\/4000000'/,
    );
    expect(selectBackup(BACKUPS, { type: 'lsn', set, target: '0/5000100' }).backup.label).toBe(set);
    const early = selectBackup(BACKUPS, { type: 'time', set, target: '2026-11-21 10:00:30+00' });
    expect(early.backup.label).toBe(set);
    expect(early.notes.join('\n')).toContain('not before the target');
    const late = selectBackup(BACKUPS, { type: 'time', set, target: '2026-11-21 10:30:00+00' });
    expect(late.notes.join('\n')).not.toContain('not before the target');
  });

  it('for a time target, picks the newest backup that finished before it', () => {
    expect(selectBackup(BACKUPS, { type: 'time', target: '2026-11-21 10:30:00+00' }).backup.label).toBe(
      '20261121-100000F',
    );
    expect(selectBackup(BACKUPS, { type: 'time', target: '2026-11-21 12:00:00+00' }).backup.label).toBe(
      '20261121-110000F',
    );
  });

  it('for a time target before every backup, fails with 75', () => {
    try {
      selectBackup(BACKUPS, { type: 'time', target: '2026-11-21 08:00:00+00' });
      expect.unreachable();
    } catch (error) {
      expect((error as { code: number }).code).toBe(75);
      expect((error as Error).message).toMatch(/unable to find a backup set with stop time before target/);
    }
  });

  it('for an lsn target, picks the newest backup that stopped at or before it', () => {
    expect(selectBackup(BACKUPS, { type: 'lsn', target: '0/6000000' }).backup.label).toBe('20261121-100000F');
    expect(() => selectBackup(BACKUPS, { type: 'lsn', target: '0/2000000' })).toThrowError(/stop lsn/);
  });

  it("for a zone-less time, reads it in the backup's recorded timezone, and writes the instant with an offset", () => {
    const newYork = { timezone: 'America/New_York', timezoneAbbreviations: 'Default' };
    const backups = [
      backup('20261121-140000F', '2026-11-21T14:01:00Z', '0/3000100', newYork),
      backup('20261121-150000F', '2026-11-21T15:01:00Z', '0/5000100', newYork),
    ];
    // 10:15 in New York is 15:15 UTC: after the second backup (under TZ=UTC it would be before both).
    const selection = selectBackup(backups, { type: 'time', target: '2026-11-21 10:15:00' });
    expect(selection.backup.label).toBe('20261121-150000F');
    expect(selection.target).toBe('2026-11-21 15:15:00+00');
    expect(selection.notes.join('\n')).toContain(
      "2026-11-21 10:15:00-05 in the cluster's timezone America/New_York",
    );
    // 09:30 in New York is 14:30 UTC: the first backup.
    expect(selectBackup(backups, { type: 'time', target: '2026-11-21 09:30:00' }).backup.label).toBe(
      '20261121-140000F',
    );
    // A timezone the restore sets wins over the recorded one.
    const paris = selectBackup(backups, {
      type: 'time',
      target: '2026-11-21 16:30:00',
      recoveryOptions: { TimeZone: 'Europe/Paris' },
    });
    expect(paris.target).toBe('2026-11-21 15:30:00+00');
    expect(paris.backup.label).toBe('20261121-150000F');
    // With --set, the target is still resolved in that backup's timezone.
    expect(
      selectBackup(backups, { type: 'time', target: '2026-11-21 10:15:00', set: '20261121-140000F' }).target,
    ).toBe('2026-11-21 15:15:00+00');
  });

  it('for a zone-less time and a backup without a recorded timezone, refuses with 32 and says how to write it', () => {
    try {
      selectBackup(BACKUPS, { type: 'time', target: '2026-11-21 10:30:00' });
      expect.unreachable();
    } catch (error) {
      expect((error as { code: number }).code).toBe(32);
      expect((error as Error).message).toMatch(/--target '2026-11-21 10:30:00'/);
    }
  });

  it('for an xid target, picks the newest backup that ended before the transaction began', () => {
    const backups = [
      backup('20261121-090000F', '2026-11-21T09:01:00Z', '0/3000100', { xidStart: '700', xidStop: '705' }),
      backup('20261121-100000F', '2026-11-21T10:01:00Z', '0/5000100', { xidStart: '750', xidStop: '760' }),
    ];
    expect(selectBackup(backups, { type: 'xid', target: '800' }).backup.label).toBe('20261121-100000F');
    expect(selectBackup(backups, { type: 'xid', target: '760' }).backup.label).toBe('20261121-100000F');
    // Began before the second backup ended: only the first can reach its commit for sure.
    const between = selectBackup(backups, { type: 'xid', target: '740' });
    expect(between.backup.label).toBe('20261121-090000F');
    expect(between.target).toBe('740');
    expect(selectBackup(backups, { type: 'xid', target: '755' }).backup.label).toBe('20261121-090000F');
    expect(() => selectBackup(backups, { type: 'xid', target: '701' })).toThrowError(
      /unable to find a backup set that ended before transaction 701 began/,
    );
  });

  it('for an xid target, compares 64-bit ids across an epoch', () => {
    const epoch = 1n << 32n;
    const backups = [
      backup('20261121-090000F', '2026-11-21T09:01:00Z', '0/3000100', { xidStop: String(epoch - 100n) }),
      backup('20261121-100000F', '2026-11-21T10:01:00Z', '0/5000100', { xidStop: String(epoch + 50n) }),
    ];
    // xid 20 of the new epoch began before the second backup ended; 4294967000 is from the epoch before.
    expect(selectBackup(backups, { type: 'xid', target: '20' }).backup.label).toBe('20261121-090000F');
    expect(selectBackup(backups, { type: 'xid', target: '60' }).backup.label).toBe('20261121-100000F');
    expect(() => selectBackup(backups, { type: 'xid', target: '4294967000' })).toThrowError(/unable to find/);
    expect(selectBackup(backups, { type: 'xid', target: String(epoch + 60n) }).backup.label).toBe(
      '20261121-100000F',
    );
    expect(widenXid(5n, epoch * 3n - 10n)).toBe(epoch * 3n + 5n);
    expect(widenXid(epoch - 5n, epoch * 3n + 10n)).toBe(epoch * 3n - 5n);
    expect(widenXid(7n, 100n)).toBe(7n);
  });

  it('for an xid target and backups that record no xids, takes the newest and says so', () => {
    const selection = selectBackup(BACKUPS, { type: 'xid', target: '800' });
    expect(selection.backup.label).toBe('20261121-110000F');
    expect(selection.notes.join('\n')).toMatch(/does not record which transactions/);
  });

  it('for a restore point name, takes the newest and says why and how to choose another', () => {
    const selection = selectBackup(BACKUPS, { type: 'name', target: 'before-upgrade' });
    expect(selection.backup.label).toBe('20261121-110000F');
    expect(selection.target).toBe('before-upgrade');
    expect(selection.notes.join('\n')).toMatch(/cannot tell where a restore point is.*--set=/s);
  });
});
