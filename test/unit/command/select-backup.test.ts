// Choosing the backup set for a restore target.
import { describe, expect, it } from 'vitest';
import { parsePgTimestamp, selectBackup } from '../../../src/command/restore/select-backup.js';
import type { BackupRecord } from '../../../src/repo/backup-info.js';

function backup(label: string, stop: string, lsnStop: string): BackupRecord {
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
  };
}

const BACKUPS = [
  backup('20261121-090000F', '2026-11-21T09:01:00Z', '0/3000100'),
  backup('20261121-100000F', '2026-11-21T10:01:00Z', '0/5000100'),
  backup('20261121-110000F', '2026-11-21T11:01:00Z', '0/7000100'),
];

describe('parsePgTimestamp', () => {
  it('reads PostgreSQL timestamps with zones', () => {
    expect(parsePgTimestamp('2026-11-21 10:15:00+00')).toBe(Date.UTC(2026, 10, 21, 10, 15, 0));
    expect(parsePgTimestamp('2026-11-21 10:15:00.25+05:30')).toBe(Date.UTC(2026, 10, 21, 4, 45, 0, 250));
    expect(parsePgTimestamp('2026-11-21 10:15:00-0200')).toBe(Date.UTC(2026, 10, 21, 12, 15, 0));
    expect(parsePgTimestamp('yesterday')).toBeUndefined();
  });
});

describe('selectBackup', () => {
  it('defaults to the newest, and latest means the same', () => {
    expect(selectBackup(BACKUPS, { type: 'default' }).label).toBe('20261121-110000F');
    expect(selectBackup(BACKUPS, { type: 'default', set: 'latest' }).label).toBe('20261121-110000F');
  });

  it('takes --set, and refuses a set that does not exist with 75', () => {
    expect(selectBackup(BACKUPS, { type: 'default', set: '20261121-090000F' }).label).toBe(
      '20261121-090000F',
    );
    expect(() => selectBackup(BACKUPS, { type: 'default', set: '20261121-093000F' })).toThrowError(
      /backup set '20261121-093000F' is not valid/,
    );
  });

  it('for a time target, picks the newest backup that finished before it', () => {
    expect(selectBackup(BACKUPS, { type: 'time', target: '2026-11-21 10:30:00+00' }).label).toBe(
      '20261121-100000F',
    );
    expect(selectBackup(BACKUPS, { type: 'time', target: '2026-11-21 12:00:00+00' }).label).toBe(
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
    expect(selectBackup(BACKUPS, { type: 'lsn', target: '0/6000000' }).label).toBe('20261121-100000F');
    expect(() => selectBackup(BACKUPS, { type: 'lsn', target: '0/2000000' })).toThrowError(/stop lsn/);
  });
});
