// Tests for the version table: the numbers per release and telling a version from pg_control, WAL and the server.
import { errorOf } from '../../harness/errors.js';
import { describe, expect, it } from 'vitest';

import { isPgStashError } from '../../../src/common/errors.js';
import {
  PG_VERSIONS,
  assertSupportedVersion,
  findVersion,
  tablespaceVersionDir,
  versionFromControl,
  versionFromServerVersionNum,
  versionFromWalMagic,
} from '../../../src/postgres/version.js';

describe('version table', () => {
  it('holds 12 to 17 with the numbers from the PostgreSQL headers', () => {
    expect(PG_VERSIONS.map((v) => [v.version, v.controlVersion, v.catalogVersion, v.walMagic])).toEqual([
      ['12', 1201, 201909212, 0xd101],
      ['13', 1300, 202007201, 0xd106],
      ['14', 1300, 202107181, 0xd10d],
      ['15', 1300, 202209061, 0xd110],
      ['16', 1300, 202307071, 0xd113],
      ['17', 1700, 202406281, 0xd116],
    ]);
    for (const info of PG_VERSIONS) expect(info.walDir).toBe('pg_wal');
  });

  it('uses the non-exclusive backup functions of each version', () => {
    for (const version of ['12', '13', '14']) {
      const info = assertSupportedVersion(version);
      expect(info.backupStartFunction).toBe('pg_start_backup');
      expect(info.backupStopFunction).toBe('pg_stop_backup');
      expect(info.backupStartSql).toContain('pg_start_backup($1::text, $2::boolean, false)');
      expect(info.backupStopSql).toBe('pg_stop_backup(false, false)');
    }
    for (const version of ['15', '16', '17']) {
      const info = assertSupportedVersion(version);
      expect(info.backupStartFunction).toBe('pg_backup_start');
      expect(info.backupStopFunction).toBe('pg_backup_stop');
      expect(info.backupStopSql).toBe('pg_backup_stop(wait_for_archive => false)');
    }
  });

  it('refuses versions outside 12 to 17 with versionNotSupported (46)', () => {
    for (const version of ['11', '18', '9.6', '', 'fifteen']) {
      const error = errorOf(() => assertSupportedVersion(version));
      expect(isPgStashError(error, 'versionNotSupported')).toBe(true);
      expect((error as { code: number }).code).toBe(46);
      expect((error as Error).message).toBe(`PostgreSQL version '${version}' is not supported`);
    }
    expect(findVersion('11')).toBeUndefined();
  });
});

describe('versionFromControl', () => {
  it('knows 12 and 17 by the control version alone', () => {
    expect(versionFromControl(1201, 201909212)).toBe('12');
    expect(versionFromControl(1700, 202406281)).toBe('17');
  });

  it('tells 13 to 16 apart by the catalog version', () => {
    expect(versionFromControl(1300, 202007201)).toBe('13');
    expect(versionFromControl(1300, 202107181)).toBe('14');
    expect(versionFromControl(1300, 202209061)).toBe('15');
    expect(versionFromControl(1300, 202307071)).toBe('16');
  });

  it.each([
    [1300, 202305011],
    [1100, 201809051],
    [1800, 202506291],
    [0, 0],
  ])('refuses control version %i with catalog version %i', (control, catalog) => {
    const error = errorOf(() => versionFromControl(control, catalog));
    expect(isPgStashError(error, 'versionNotSupported')).toBe(true);
    expect((error as Error).message).toContain(`'${control}'`);
    expect((error as Error).message).toContain(`'${catalog}'`);
  });
});

describe('other version sources', () => {
  it('maps WAL page magic to a version, or undefined', () => {
    expect(versionFromWalMagic(0xd110)).toBe('15');
    expect(versionFromWalMagic(0xd101)).toBe('12');
    expect(versionFromWalMagic(0xd116)).toBe('17');
    expect(versionFromWalMagic(0xd118)).toBeUndefined();
    expect(versionFromWalMagic(0xd098)).toBeUndefined();
  });

  it('maps server_version_num to a major version', () => {
    expect(versionFromServerVersionNum(150004)).toBe('15');
    expect(versionFromServerVersionNum(120000)).toBe('12');
    expect(versionFromServerVersionNum(170002)).toBe('17');
    expect(
      isPgStashError(
        errorOf(() => versionFromServerVersionNum(110022)),
        'versionNotSupported',
      ),
    ).toBe(true);
    expect(
      isPgStashError(
        errorOf(() => versionFromServerVersionNum(180000)),
        'versionNotSupported',
      ),
    ).toBe(true);
  });

  it('names the per-version tablespace directory', () => {
    expect(tablespaceVersionDir('15')).toBe('PG_15_202209061');
    expect(tablespaceVersionDir('12')).toBe('PG_12_201909212');
  });
});
