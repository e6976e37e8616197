// backup.info: the stanza's database history and the list of complete backups, newest last.
import { PgStashError } from '../common/errors.js';
import type { Driver } from '../storage/driver.js';
import { parseDbHistory, serializeDbHistory, type DbHistory } from './db-history.js';
import { readInfoFile, writeInfoFile } from './info-file.js';
import { repoLayout } from './layout.js';

const KIND = 'backup.info';

export type BackupType = 'full' | 'diff' | 'incr';

/** What backup.info and the backup's manifest both record: which backup, when, and the WAL range it needs. */
export interface BackupSpan {
  readonly label: string;
  readonly type: BackupType;
  /** Label of the backup this one depends on (diff/incr), undefined for full. */
  readonly prior?: string | undefined;
  /** Unix epoch seconds. */
  readonly timestampStart: number;
  readonly timestampStop: number;
  readonly lsnStart: string;
  readonly lsnStop: string;
  readonly walStart: string;
  readonly walStop: string;
  readonly compressType: string;
  readonly encrypted: boolean;
  readonly archiveCopy: boolean;
  /**
   * The server's `timezone` and `timezone_abbreviations` when the backup ran: how a restored server reads a
   * recovery target time. Absent in backups taken before pgstash recorded them.
   */
  readonly timezone?: string | undefined;
  readonly timezoneAbbreviations?: string | undefined;
  /**
   * The next 64-bit transaction id (epoch and xid, decimal) when the backup started and just after it stopped:
   * any transaction from xidStop on began after the backup ended. Absent in older backups.
   */
  readonly xidStart?: string | undefined;
  readonly xidStop?: string | undefined;
}

/** The optional fields of a backup span are strings when present (and the xids decimal): else a format error. */
export function checkSpanFields(span: Partial<BackupSpan>, where: string): void {
  const fields = ['timezone', 'timezoneAbbreviations', 'xidStart', 'xidStop'] as const;
  for (const field of fields) {
    const value = span[field];
    const valid =
      value === undefined ||
      (typeof value === 'string' && (!field.startsWith('xid') || /^[0-9]{1,20}$/.test(value)));
    if (!valid)
      throw new PgStashError('format', `invalid ${field} of backup '${String(span.label)}' in '${where}'`);
  }
}

/** One complete backup. Only backups whose manifest was fully written are ever recorded here. */
export interface BackupRecord extends BackupSpan {
  readonly dbId: number;
  /**
   * Bytes of the data directory the backup restores, and as stored in the repository (counting files another
   * backup holds for a diff or incr).
   */
  readonly size: number;
  readonly repoSize: number;
  /**
   * What this backup added itself (the files it holds): original and stored bytes. Absent in records written
   * before diff and incr existed, all full backups, where they equal size and repoSize (`addedSizes`).
   */
  readonly sizeDelta?: number | undefined;
  readonly repoSizeDelta?: number | undefined;
  /** Labels of the other backups holding files of this one, oldest first (absent or empty for a full). */
  readonly references?: readonly string[] | undefined;
  readonly fileCount: number;
  readonly pageChecksumErrors: number;
  /** Notes set by `backup --annotation` and `annotate` (key -> value). Absent when there are none. */
  readonly annotation?: Readonly<Record<string, string>> | undefined;
  /** Set by `annotate --pin`: expire never removes it, its prior chain or the WAL of its start to stop. */
  readonly pinned?: boolean | undefined;
}

/** The bytes a backup added against the whole it restores, for records with or without the delta fields. */
export function addedSizes(record: BackupRecord): { size: number; repoSize: number } {
  return { size: record.sizeDelta ?? record.size, repoSize: record.repoSizeDelta ?? record.repoSize };
}

export interface BackupInfo extends DbHistory {
  readonly backups: readonly BackupRecord[];
}

function parseBackups(raw: unknown, where: string): BackupRecord[] {
  if (!Array.isArray(raw)) throw new PgStashError('format', `invalid backup list in '${where}'`);
  return raw.map((entry: unknown) => {
    const record = entry as Partial<BackupRecord> | null;
    if (record === null || typeof record.label !== 'string' || typeof record.type !== 'string') {
      throw new PgStashError('format', `invalid backup record in '${where}'`);
    }
    checkSpanFields(record, where);
    const { annotation, pinned } = record;
    const validAnnotation =
      annotation === undefined ||
      (typeof annotation === 'object' &&
        annotation !== null &&
        Object.values(annotation).every((value) => typeof value === 'string'));
    if (!validAnnotation || (pinned !== undefined && typeof pinned !== 'boolean'))
      throw new PgStashError('format', `invalid annotation or pin of backup '${record.label}' in '${where}'`);
    return record as BackupRecord;
  });
}

export async function readBackupInfo(
  driver: Driver,
  stanza: string,
  key: Buffer | undefined,
): Promise<BackupInfo | undefined> {
  const path = repoLayout.backupInfo(stanza);
  const where = `${driver.location}/${path}`;
  const raw = (await readInfoFile(driver, path, { kind: KIND, key })) as { backups?: unknown } | undefined;
  if (raw === undefined) return undefined;
  return { ...parseDbHistory(raw, where), backups: parseBackups(raw.backups, where) };
}

export async function writeBackupInfo(
  driver: Driver,
  stanza: string,
  info: BackupInfo,
  key: Buffer | undefined,
): Promise<void> {
  const content = { ...(serializeDbHistory(info) as object), backups: info.backups };
  await writeInfoFile(driver, repoLayout.backupInfo(stanza), { kind: KIND, content, key });
}
