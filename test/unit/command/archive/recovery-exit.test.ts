// Tests for archive-get's exit code in archive recovery: errors and crashes stop it (128 + code), not found ends it.
import { mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ARCHIVE_GET_NOT_FOUND,
  inArchiveRecovery,
  leaveToRecoveryTarget,
  restoreCommandExitCode,
} from '../../../../src/command/archive/recovery-exit.js';
import { PgStashError } from '../../../../src/common/errors.js';
import { crashExitCode } from '../../../../src/main.js';

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'pgstash-recovery-exit-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('restoreCommandExitCode', () => {
  it('outside a data directory in recovery: every code as it is', () => {
    expect(inArchiveRecovery(dataDir)).toBe(false);
    for (const code of [0, ARCHIVE_GET_NOT_FOUND, 26, 55, 95, 124]) {
      expect(restoreCommandExitCode(code, dataDir)).toBe(code);
    }
  });

  it('in archive recovery: an error exits 128 + its code, success and "not found" stay', async () => {
    await writeFile(join(dataDir, 'recovery.signal'), '');
    expect(inArchiveRecovery(dataDir)).toBe(true);
    expect(restoreCommandExitCode(26, dataDir)).toBe(154);
    expect(restoreCommandExitCode(124, dataDir)).toBe(252);
    expect(restoreCommandExitCode(0, dataDir)).toBe(0);
    expect(restoreCommandExitCode(ARCHIVE_GET_NOT_FOUND, dataDir)).toBe(ARCHIVE_GET_NOT_FOUND);
  });

  it('in archive recovery, an error marked as guarded by the recovery target keeps its plain code', async () => {
    await writeFile(join(dataDir, 'recovery.signal'), '');
    const guarded = leaveToRecoveryTarget(new PgStashError('checksum', 'corrupt'));
    expect(restoreCommandExitCode(26, dataDir, guarded)).toBe(26);
    expect(restoreCommandExitCode(26, dataDir, new PgStashError('checksum', 'corrupt'))).toBe(154);
  });

  it('a working directory that no longer exists is not a data directory in recovery', async () => {
    const before = process.cwd();
    const gone = join(dataDir, 'gone');
    await mkdir(gone);
    process.chdir(gone);
    try {
      await rmdir(gone);
      expect(inArchiveRecovery()).toBe(false);
      expect(restoreCommandExitCode(26)).toBe(26);
    } finally {
      process.chdir(before);
    }
  });

  it('on a standby (standby.signal wins over recovery.signal): the plain code, so it retries', async () => {
    await writeFile(join(dataDir, 'recovery.signal'), '');
    await writeFile(join(dataDir, 'standby.signal'), '');
    expect(inArchiveRecovery(dataDir)).toBe(false);
    expect(restoreCommandExitCode(26, dataDir)).toBe(26);
  });
});

describe('crashExitCode', () => {
  it('a crash is unhandled (124), never "not found" (1), and stops archive recovery (252)', async () => {
    const argv = ['--stanza=main', 'archive-get', '000000010000000000000005', 'pg_wal/RECOVERYXLOG'];
    const before = process.cwd();
    process.chdir(dataDir);
    try {
      expect(crashExitCode(argv, new Error('a bug'))).toBe(124);
      await writeFile(join(dataDir, 'recovery.signal'), '');
      expect(crashExitCode(argv, new Error('a bug'))).toBe(252);
      expect(crashExitCode(['--stanza=main', 'archive-push', 'pg_wal/x'], new Error('a bug'))).toBe(124);
      // The command as the parser reads it, even where an option's value comes first.
      const spaced = ['--stanza', 'main', 'archive-get', '000000010000000000000005', 'pg_wal/RECOVERYXLOG'];
      expect(crashExitCode(spaced, new Error('a bug'))).toBe(252);
    } finally {
      process.chdir(before);
    }
  });
});
