// A running backup's progress record: written beside its partial manifest as it copies, read by `info`.
//
// Why in the repository and not in a lock file: `info` may run on another host than the backup (a repository on
// shared storage now, on S3, Azure or GCS next), and the repository is what both see. A record is only ever
// overwritten whole; a backup that dies leaves its last one, which tells nothing by itself about whether the
// backup still runs: the reader decides that (command/info/running-backup.ts).
import { JsonObject } from '../common/json-fields.js';

export const BACKUP_PROGRESS_KIND = 'backup.progress';

export interface BackupProgressRecord {
  readonly label: string;
  /** The host and process that run the backup. */
  readonly host: string;
  readonly pid: number;
  /** When the copy started and when this record was written, by the writer's clock (epoch milliseconds). */
  readonly started: number;
  readonly updated: number;
  /** Seconds between two records (progress-interval): a record much older than this is from a backup that stopped. */
  readonly interval: number;
  readonly bytes: { readonly total: number; readonly done: number };
  readonly files: { readonly total: number; readonly done: number };
  /** Bytes per second lately, and seconds left at that rate; null while not known. */
  readonly rate: number | null;
  readonly eta: number | null;
}

function optionalNumber(object: JsonObject, name: string): number | null {
  return object.raw(name) === null ? null : object.int(name);
}

/** Validates a record read back; a format error (29) names the field. */
export function parseBackupProgress(content: unknown, where: string): BackupProgressRecord {
  const record = JsonObject.of(content, { kind: BACKUP_PROGRESS_KIND, where });
  const bytes = record.obj('bytes');
  const files = record.obj('files');
  return {
    label: record.str('label'),
    host: record.str('host'),
    pid: record.int('pid', 1),
    started: record.int('started'),
    updated: record.int('updated'),
    interval: record.int('interval', 1),
    bytes: { total: bytes.int('total'), done: bytes.int('done') },
    files: { total: files.int('total'), done: files.int('done') },
    rate: optionalNumber(record, 'rate'),
    eta: optionalNumber(record, 'eta'),
  };
}
