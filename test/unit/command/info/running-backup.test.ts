// Tests for findRunningBackup: a backup's progress record is shown while this host's backup lock is held by the
// process that wrote it, never after that process is gone; another host's record is shown with its age.
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRunningBackup, runningBackupLine } from '../../../../src/command/info/running-backup.js';
import { acquireLock } from '../../../../src/common/lock.js';
import type { BackupProgressRecord } from '../../../../src/repo/backup-progress.js';
import type { Repository } from '../../../../src/repo/repository.js';
import { emptyStanza, TEST_DB } from '../../../harness/repository.js';
import { createTempDir, removeTempDir } from '../../../harness/tmp.js';

const LABEL = '20261206-101500F';
const NOW = Date.parse('2026-12-06T10:20:00Z');

let root: string;
let repo: Repository;
let lockPath: string;

function record(fields: Partial<BackupProgressRecord> = {}): BackupProgressRecord {
  return {
    label: LABEL,
    host: hostname(),
    pid: process.pid,
    started: NOW - 60_000,
    updated: NOW - 4_000,
    interval: 10,
    bytes: { total: 4000, done: 1000 },
    files: { total: 40, done: 9 },
    rate: 50,
    eta: 60,
    ...fields,
  };
}

beforeAll(async () => {
  root = await createTempDir({ label: 'running-backup' });
  lockPath = join(root, 'lock');
  repo = await emptyStanza(join(root, 'repo'), { encrypted: true });
  await repo.backups.begin({
    backup: {
      label: LABEL,
      type: 'full',
      timestampStart: NOW / 1000 - 60,
      lsnStart: '0/2000028',
      walStart: '000000010000000000000002',
      timeline: 1,
      compressType: 'none',
      compressLevel: 0,
      references: [],
      encrypted: true,
      checksumPage: true,
    },
    db: TEST_DB.current,
    targets: [{ name: 'pg_data', type: 'path', path: '/pg' }],
  });
});

afterAll(async () => {
  await removeTempDir(root);
});

const find = async (): Promise<Awaited<ReturnType<typeof findRunningBackup>>> =>
  findRunningBackup(repo, await repo.backups.requireInfo(), lockPath, NOW);

describe('findRunningBackup', () => {
  it('finds nothing for a backup that has written no record yet', async () => {
    expect(await find()).toBeUndefined();
  });

  it("shows this host's backup while the process that wrote the record holds the backup lock", async () => {
    await repo.backups.recordProgress(record());
    const lock = await acquireLock({ lockPath, stanza: 'main', type: 'backup' });
    try {
      const running = await find();
      expect(running).toMatchObject({ thisHost: true, ageSeconds: 4, overdue: false, percent: 25 });
      expect(runningBackupLine(running!, 1)).toBe(
        `    repo1: backup ${LABEL} running (pid ${process.pid}): 25.0% of 3.9KB, 50B/s, ETA 1:00, 9/40 files, updated 4s ago`,
      );
    } finally {
      await lock.release();
    }
  });

  it('does not show a record whose process no longer holds the lock (kill -9 leaves the record and a stale lock)', async () => {
    // Nobody holds the lock: a killed backup.
    expect(await find()).toBeUndefined();
    // The lock is held, but by another process than the record's (a later backup, before its first record).
    await repo.backups.recordProgress(record({ pid: 999_999 }));
    const lock = await acquireLock({ lockPath, stanza: 'main', type: 'backup' });
    try {
      expect(await find()).toBeUndefined();
    } finally {
      await lock.release();
    }
  });

  it("shows another host's record with its age, and as overdue once far older than its interval", async () => {
    await repo.backups.recordProgress(record({ host: 'db-elsewhere', updated: NOW - 20_000 }));
    expect(await find()).toMatchObject({ thisHost: false, ageSeconds: 20, overdue: false });
    await repo.backups.recordProgress(record({ host: 'db-elsewhere', updated: NOW - 605_000 }));
    const stale = await find();
    expect(stale).toMatchObject({ thisHost: false, ageSeconds: 605, overdue: true });
    expect(runningBackupLine(stale!, 1)).toMatch(
      /running on host 'db-elsewhere' \(pid \d+\): .*, last updated 10m05s ago: it may have stopped$/,
    );
  });

  it('takes an unreadable record for none (it is only a hint), and a listed backup is never running', async () => {
    await writeFile(join(root, 'repo', 'backup', 'main', LABEL, 'backup.progress'), 'not a record');
    expect(await find()).toBeUndefined();
    await repo.backups.recordProgress(record({ host: 'db-elsewhere', updated: NOW }));
    const info = await repo.backups.requireInfo();
    const listed = { ...info, backups: [{ label: LABEL } as (typeof info.backups)[number]] };
    expect(await findRunningBackup(repo, listed, lockPath, NOW)).toBeUndefined();
  });
});
