// The backup's manifest and backup.info record (pgBackRest's backupManifest*): what is known when the backup
// begins (the partial manifest written then), and the whole once the copy, the stop and the WAL are done.
import type { BackupRecord, BackupType } from '../../repo/backup-info.js';
import type { PartialManifest } from '../../repo/backup-store.js';
import { recordOfManifest } from '../../repo/backup-record.js';
import {
  holdersOf,
  type Manifest,
  type ManifestDb,
  type ManifestFile,
  type ManifestLink,
  type ManifestPath,
} from '../../repo/manifest.js';
import type { CompressSettings } from '../../repo/repository.js';
import { formatLsn } from '../../postgres/lsn.js';
import type { BackupStarted } from './start.js';
import type { BackupStopped } from './stop.js';

/** What a backup is when it begins: set by the options, the stanza and pg_backup_start. */
export interface BackupBeginning {
  readonly label: string;
  readonly type: BackupType;
  /** Label of the backup this one depends on (diff, incr). */
  readonly prior?: string | undefined;
  readonly started: Date;
  readonly start: BackupStarted;
  readonly compress: CompressSettings;
  readonly encrypted: boolean;
  /** The cluster has data checksums: page checksums are verified while copying. */
  readonly checksumPage: boolean;
  /** The stanza's current database (backup.info). */
  readonly db: ManifestDb;
  readonly pgPath: string;
}

/** What the copy, the stop and the archive wait add. */
export interface BackupEnding {
  readonly stopped: BackupStopped;
  readonly walStart: string;
  readonly walStop: string;
  readonly archiveCopy: boolean;
  readonly paths: readonly ManifestPath[];
  readonly links: readonly ManifestLink[];
  /** Every stored file, in any order. */
  readonly files: readonly ManifestFile[];
  /** backup --annotation (key -> value), none when empty. */
  readonly annotation: Readonly<Record<string, string>>;
}

function targetsOf(beginning: BackupBeginning): PartialManifest['targets'] {
  return [
    { name: 'pg_data', type: 'path', path: beginning.pgPath },
    ...beginning.start.tablespaces.map((space) => ({
      name: `pg_tblspc/${space.oid}`,
      type: 'link' as const,
      path: space.location,
      tablespaceOid: space.oid,
      ...(space.name === undefined ? {} : { tablespaceName: space.name }),
    })),
  ];
}

/** The partial manifest BackupStore.begin writes. */
export function beginManifest(beginning: BackupBeginning): PartialManifest {
  const { start } = beginning;
  return {
    backup: {
      label: beginning.label,
      type: beginning.type,
      ...(beginning.prior === undefined ? {} : { prior: beginning.prior }),
      timestampStart: Math.floor(beginning.started.getTime() / 1000),
      lsnStart: formatLsn(start.lsn),
      walStart: start.walFile,
      timeline: start.timeline,
      compressType: beginning.compress.type,
      compressLevel: beginning.compress.level,
      encrypted: beginning.encrypted,
      checksumPage: beginning.checksumPage,
      // Known once the copy is done (which files a diff or incr takes from earlier backups).
      references: [],
    },
    db: { ...beginning.db },
    targets: targetsOf(beginning),
  };
}

/** The complete manifest (files sorted by name) and the backup.info record of the backup. */
export function completeManifest(
  beginning: BackupBeginning,
  ending: BackupEnding,
): { manifest: Manifest; record: BackupRecord } {
  const { start, started } = beginning;
  const { stopped } = ending;
  const files = [...ending.files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const references = referencesOf(beginning.label, files);
  const { timezone, timezoneAbbreviations, xidStart } = start;
  const { xidStop } = stopped;
  const manifest: Manifest = {
    backup: {
      label: beginning.label,
      type: beginning.type,
      ...(beginning.prior === undefined ? {} : { prior: beginning.prior }),
      timestampStart: Math.floor(started.getTime() / 1000),
      // Rounded up: a time target inside the last second must not pick a backup not yet consistent then.
      timestampStop: Math.ceil(stopped.stopped.getTime() / 1000),
      lsnStart: formatLsn(start.lsn),
      lsnStop: formatLsn(stopped.lsn),
      walStart: ending.walStart,
      walStop: ending.walStop,
      compressType: beginning.compress.type,
      encrypted: beginning.encrypted,
      archiveCopy: ending.archiveCopy,
      ...(timezone === undefined ? {} : { timezone }),
      ...(timezoneAbbreviations === undefined ? {} : { timezoneAbbreviations }),
      xidStart,
      xidStop,
      timeline: start.timeline,
      compressLevel: beginning.compress.level,
      checksumPage: beginning.checksumPage,
      references,
      ...(Object.keys(ending.annotation).length === 0 ? {} : { annotation: ending.annotation }),
    },
    db: { ...beginning.db },
    targets: targetsOf(beginning),
    paths: ending.paths,
    links: ending.links,
    files,
  };
  return { manifest, record: recordOfManifest(manifest) };
}

/**
 * The other backups holding files of backup `label`, oldest first: labels sort by the time of their own start
 * (the last 15 characters before the type letter, YYYYMMDD-HHMMSS).
 */
function referencesOf(label: string, files: readonly ManifestFile[]): string[] {
  const holders = new Set(files.flatMap(holdersOf));
  holders.delete(label);
  const started = (holder: string): string => holder.slice(-16, -1);
  return [...holders].sort((a, b) => (started(a) < started(b) ? -1 : started(a) > started(b) ? 1 : 0));
}
