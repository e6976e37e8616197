// Repository paths and names: archive ids, WAL file names with checksums, backup labels.
import { describe, expect, it } from 'vitest';
import { backupLabel, isBackupLabel } from '../../../src/repo/label.js';
import {
  archiveId,
  archivedWalName,
  parseArchiveId,
  parseArchivedWalName,
  repoLayout,
  walClaimName,
} from '../../../src/repo/layout.js';

const SHA = 'a'.repeat(64);

describe('layout', () => {
  it('builds and parses archive ids', () => {
    expect(archiveId('15', 2)).toBe('15-2');
    expect(parseArchiveId('15-2')).toEqual({ pgVersion: '15', dbId: 2 });
    expect(parseArchiveId('15')).toBeUndefined();
  });

  it('puts segments under their first 16 hex digits and history files at the archive id root', () => {
    expect(repoLayout.walDirectory('main', '15-1', '000000010000000200000003')).toBe(
      'archive/main/15-1/0000000100000002',
    );
    expect(repoLayout.walDirectory('main', '15-1', '000000010000000000000002.00000028.backup')).toBe(
      'archive/main/15-1/0000000100000000',
    );
    expect(repoLayout.walDirectory('main', '15-1', '00000002.history')).toBe('archive/main/15-1');
  });

  it("names a WAL file's claim without a checksum, and no archived WAL name matches it", () => {
    expect(walClaimName('000000010000000000000001')).toBe('000000010000000000000001.claim');
    expect(parseArchivedWalName(walClaimName('000000010000000000000001'))).toBeUndefined();
    expect(parseArchivedWalName(walClaimName('00000002.history'))).toBeUndefined();
  });

  it('round-trips archived WAL names for every extension', () => {
    for (const extension of ['', '.gz', '.lz4', '.zst']) {
      const name = archivedWalName('000000010000000000000001', SHA, extension);
      expect(parseArchivedWalName(name)).toEqual({
        walFileName: '000000010000000000000001',
        sha256: SHA,
        extension,
      });
    }
    expect(parseArchivedWalName('000000010000000000000001')).toBeUndefined();
    expect(parseArchivedWalName(`000000010000000000000001-${SHA}.bz2`)).toBeUndefined();
  });
});

describe('backup labels', () => {
  it('formats full, diff and incr labels', () => {
    const date = new Date(2026, 10, 21, 10, 15, 0);
    expect(backupLabel('full', date)).toBe('20261121-101500F');
    expect(backupLabel('incr', date, '20261120-010000F')).toBe('20261120-010000F_20261121-101500I');
    expect(isBackupLabel('20261121-101500F')).toBe(true);
    expect(isBackupLabel('20261120-010000F_20261121-101500D')).toBe(true);
    expect(isBackupLabel('20261121-101500X')).toBe(false);
  });
});
