// Tests for the backup's manifest build: the partial manifest at the start, and the whole manifest and
// backup.info record at the end (sorted files, totals, rounded times, optional fields only when known).
import { describe, expect, it } from 'vitest';
import {
  beginManifest,
  completeManifest,
  type BackupBeginning,
} from '../../../../src/command/backup/manifest-build.js';
import { fileStorage, type ManifestFile } from '../../../../src/repo/manifest.js';

const DB = { id: 1, version: '15', systemId: 7n, catalogVersion: 202209061, controlVersion: 1300 };
const OWNER = { mode: 0o600, uid: 26, gid: 26, user: 'postgres', group: 'postgres' };

const beginning: BackupBeginning = {
  label: '20261206-120000F',
  type: 'full',
  started: new Date(1_700_000_000_400),
  start: {
    lsn: 0x2000028n,
    walFile: '000000010000000000000002',
    timeline: 1,
    tablespaces: [{ oid: 16384, name: 'space', location: '/ts' }],
    timezone: 'Europe/Paris',
    timezoneAbbreviations: undefined,
    xidStart: '740',
  },
  compress: { type: 'zst', level: 3 },
  encrypted: false,
  checksumPage: true,
  db: DB,
  pgPath: '/pg',
};

const file = (name: string, size: number, errors?: number[]): ManifestFile => ({
  name,
  size,
  mtime: 1,
  sha256: 'a'.repeat(64),
  ...OWNER,
  stored: { ...fileStorage('20261206-120000F', { type: 'zst', level: 3 }, false), size: size / 2 },
  ...(errors === undefined ? {} : { pageChecksumErrors: errors }),
});

describe('manifest build', () => {
  it('begins with what pg_backup_start told: start, targets, db, compression', () => {
    expect(beginManifest(beginning)).toEqual({
      backup: {
        label: '20261206-120000F',
        type: 'full',
        timestampStart: 1_700_000_000,
        lsnStart: '0/2000028',
        walStart: '000000010000000000000002',
        timeline: 1,
        compressType: 'zst',
        compressLevel: 3,
        encrypted: false,
        checksumPage: true,
        references: [],
      },
      db: DB,
      targets: [
        { name: 'pg_data', type: 'path', path: '/pg' },
        { name: 'pg_tblspc/16384', type: 'link', path: '/ts', tablespaceOid: 16384, tablespaceName: 'space' },
      ],
    });
  });

  it('completes with the files sorted, the totals, the stop rounded up, and the record matching the manifest', () => {
    const { manifest, record } = completeManifest(beginning, {
      stopped: {
        lsn: 0x3000100n,
        stopped: new Date(1_700_000_010_200),
        xidStop: '745',
        files: [],
        generated: {
          compress: beginning.compress,
          storage: fileStorage('20261206-120000F', beginning.compress, false),
          owner: OWNER,
          mtime: 1_700_000_010,
        },
      },
      walStart: '000000010000000000000002',
      walStop: '000000010000000000000003',
      archiveCopy: false,
      paths: [{ name: 'pg_data', ...OWNER, mode: 0o700 }],
      links: [],
      files: [file('pg_data/b', 8192, [0, 3]), file('pg_data/a', 100)],
      annotation: { source: 'nightly', ticket: 'DBA-42' },
    });
    expect(manifest.files.map((entry) => entry.name)).toEqual(['pg_data/a', 'pg_data/b']);
    expect(record).toEqual({
      label: '20261206-120000F',
      type: 'full',
      timestampStart: 1_700_000_000,
      timestampStop: 1_700_000_011,
      lsnStart: '0/2000028',
      lsnStop: '0/3000100',
      walStart: '000000010000000000000002',
      walStop: '000000010000000000000003',
      dbId: 1,
      size: 8292,
      repoSize: 4146,
      sizeDelta: 8292,
      repoSizeDelta: 4146,
      references: [],
      fileCount: 2,
      compressType: 'zst',
      encrypted: false,
      archiveCopy: false,
      pageChecksumErrors: 2,
      timezone: 'Europe/Paris',
      xidStart: '740',
      xidStop: '745',
      annotation: { source: 'nightly', ticket: 'DBA-42' },
    });
    expect(manifest.backup).toEqual({
      label: record.label,
      type: 'full',
      timestampStart: record.timestampStart,
      timestampStop: record.timestampStop,
      lsnStart: record.lsnStart,
      lsnStop: record.lsnStop,
      walStart: record.walStart,
      walStop: record.walStop,
      compressType: 'zst',
      encrypted: false,
      archiveCopy: false,
      timezone: 'Europe/Paris',
      xidStart: '740',
      xidStop: '745',
      timeline: 1,
      compressLevel: 3,
      checksumPage: true,
      references: [],
      annotation: { source: 'nightly', ticket: 'DBA-42' },
    });
    expect(manifest.targets).toEqual(beginManifest(beginning).targets);
  });
});

describe('manifest build of an incremental', () => {
  it('records the holders it references, oldest first, and what it added against what it restores', () => {
    const label = '20261206-120000F_20261206-140000I';
    const held = (name: string, holder: string, size: number): ManifestFile => ({
      ...file(name, size),
      stored: { ...fileStorage(holder, { type: 'lz4', level: 1 }, false), size: size / 4 },
    });
    const { manifest, record } = completeManifest(
      { ...beginning, label, type: 'incr', prior: '20261206-120000F_20261206-130000I' },
      {
        stopped: {
          lsn: 0x3000100n,
          stopped: new Date(1_700_000_010_200),
          xidStop: '745',
          files: [],
          generated: {
            compress: beginning.compress,
            storage: fileStorage(label, beginning.compress, false),
            owner: OWNER,
            mtime: 1_700_000_010,
          },
        },
        walStart: '000000010000000000000002',
        walStop: '000000010000000000000003',
        archiveCopy: false,
        paths: [],
        links: [],
        files: [
          held('pg_data/c', '20261206-120000F_20261206-130000I', 400),
          held('pg_data/b', '20261206-120000F', 800),
          file('pg_data/a', 100),
          {
            ...file('pg_data/d', 200),
            stored: { ...fileStorage(label, { type: 'zst', level: 3 }, false), size: 100 },
          },
        ],
        annotation: {},
      },
    );
    expect(manifest.backup.references).toEqual(['20261206-120000F', '20261206-120000F_20261206-130000I']);
    expect(record.references).toEqual(manifest.backup.references);
    expect(record).toMatchObject({ size: 1500, repoSize: 450, sizeDelta: 200, repoSizeDelta: 100 });
    // No annotation given: neither the manifest nor the record has the field.
    expect('annotation' in manifest.backup || 'annotation' in record).toBe(false);
  });
});
