// The one table of supported PostgreSQL major versions (12 to 17) and everything that differs between them.
import { fail } from '../common/errors.js';

/**
 * What pgstash needs to know about one PostgreSQL major version.
 *
 * The numbers were checked against the PostgreSQL headers of each release branch:
 * PG_CONTROL_VERSION (src/include/catalog/pg_control.h), CATALOG_VERSION_NO (src/include/catalog/catversion.h)
 * and XLOG_PAGE_MAGIC (src/include/access/xlog_internal.h).
 */
export interface PgVersionInfo {
  /** Major version as PostgreSQL writes it to PG_VERSION: '12' ... '17'. */
  readonly version: string;
  /** Lowest server_version_num of this major version (120000 ... 170000). */
  readonly versionNum: number;
  /** PG_CONTROL_VERSION: the format of global/pg_control. */
  readonly controlVersion: number;
  /** CATALOG_VERSION_NO of the release (YYYYMMDDN). */
  readonly catalogVersion: number;
  /** XLOG_PAGE_MAGIC: first two bytes of every WAL page. */
  readonly walMagic: number;
  /** WAL directory inside the data directory. */
  readonly walDir: string;
  /** Non-exclusive backup start function and its SQL (parameters: label, fast). */
  readonly backupStartFunction: 'pg_backup_start' | 'pg_start_backup';
  readonly backupStartSql: string;
  /** Non-exclusive backup stop function and its SQL; the call returns (lsn, labelfile, spcmapfile). */
  readonly backupStopFunction: 'pg_backup_stop' | 'pg_stop_backup';
  readonly backupStopSql: string;
}

// 15 renamed the backup functions and dropped exclusive backups; 12-14 take a third argument
// exclusive => false for the non-exclusive form, and the stop call must say (exclusive, wait_for_archive).
const BACKUP_15 = {
  backupStartFunction: 'pg_backup_start',
  backupStartSql: 'pg_backup_start($1::text, $2::boolean)',
  backupStopFunction: 'pg_backup_stop',
  backupStopSql: 'pg_backup_stop(wait_for_archive => false)',
} as const;

const BACKUP_12 = {
  backupStartFunction: 'pg_start_backup',
  backupStartSql: 'pg_start_backup($1::text, $2::boolean, false)',
  backupStopFunction: 'pg_stop_backup',
  backupStopSql: 'pg_stop_backup(false, false)',
} as const;

/** Supported versions, oldest first. */
export const PG_VERSIONS: readonly PgVersionInfo[] = [
  {
    version: '12',
    versionNum: 120000,
    controlVersion: 1201,
    catalogVersion: 201909212,
    walMagic: 0xd101,
    walDir: 'pg_wal',
    ...BACKUP_12,
  },
  {
    version: '13',
    versionNum: 130000,
    controlVersion: 1300,
    catalogVersion: 202007201,
    walMagic: 0xd106,
    walDir: 'pg_wal',
    ...BACKUP_12,
  },
  {
    version: '14',
    versionNum: 140000,
    controlVersion: 1300,
    catalogVersion: 202107181,
    walMagic: 0xd10d,
    walDir: 'pg_wal',
    ...BACKUP_12,
  },
  {
    version: '15',
    versionNum: 150000,
    controlVersion: 1300,
    catalogVersion: 202209061,
    walMagic: 0xd110,
    walDir: 'pg_wal',
    ...BACKUP_15,
  },
  {
    version: '16',
    versionNum: 160000,
    controlVersion: 1300,
    catalogVersion: 202307071,
    walMagic: 0xd113,
    walDir: 'pg_wal',
    ...BACKUP_15,
  },
  {
    version: '17',
    versionNum: 170000,
    controlVersion: 1700,
    catalogVersion: 202406281,
    walMagic: 0xd116,
    walDir: 'pg_wal',
    ...BACKUP_15,
  },
];

export const PG_VERSION_MIN = '12';
export const PG_VERSION_MAX = '17';

const SUPPORTED_HINT = `pgstash supports PostgreSQL ${PG_VERSION_MIN} to ${PG_VERSION_MAX}`;

/** The table entry of a supported major version ('15'), or undefined. */
export function findVersion(version: string): PgVersionInfo | undefined {
  return PG_VERSIONS.find((info) => info.version === version);
}

/** The table entry of `version`; an unsupported version fails with versionNotSupported (46). */
export function assertSupportedVersion(version: string): PgVersionInfo {
  return (
    findVersion(version) ??
    fail('versionNotSupported', `PostgreSQL version '${version}' is not supported`, { hint: SUPPORTED_HINT })
  );
}

/**
 * The major version of a cluster from the two numbers in its pg_control.
 *
 * The control version alone names 12 and 17; 13 to 16 share control version 1300 and are told apart by the
 * catalog version, which must then match the release exactly (a beta's catalog version differs and is refused,
 * like pgBackRest does).
 */
export function versionFromControl(controlVersion: number, catalogVersion: number): string {
  const candidates = PG_VERSIONS.filter((info) => info.controlVersion === controlVersion);
  const match =
    candidates.length === 1
      ? candidates[0]
      : candidates.find((info) => info.catalogVersion === catalogVersion);
  if (match === undefined) {
    fail(
      'versionNotSupported',
      `unexpected pg_control version '${controlVersion}' and catalog version '${catalogVersion}'`,
      { hint: `${SUPPORTED_HINT}; is the PostgreSQL version supported, and is pg_control intact?` },
    );
  }
  return match.version;
}

/** The major version that writes WAL pages with this XLOG_PAGE_MAGIC, or undefined for another version. */
export function versionFromWalMagic(magic: number): string | undefined {
  return PG_VERSIONS.find((info) => info.walMagic === magic)?.version;
}

/** The major version of a server_version_num (150004 -> '15'); an unsupported version fails (46). */
export function versionFromServerVersionNum(versionNum: number): string {
  const version = String(Math.floor(versionNum / 10000));
  return assertSupportedVersion(version).version;
}

/**
 * The per-version directory PostgreSQL creates inside every tablespace location: PG_15_202209061.
 * Backups copy tablespaces through this directory.
 */
export function tablespaceVersionDir(version: string): string {
  const info = assertSupportedVersion(version);
  return `PG_${info.version}_${info.catalogVersion}`;
}
