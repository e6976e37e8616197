// verify of a stanza's backups: each backup's own repository files read back, oldest first, then every file each
// backup's manifest needs (its own and those it takes from older backups) checked against what was found wrong.
// A backup's holders are always older than it, so one manifest is in memory at a time and only the damaged
// files are remembered.
import { ERROR_CODES, isPgStashError, messageOf } from '../../common/errors.js';
import type { BackupRecord } from '../../repo/backup-info.js';
import type { Manifest } from '../../repo/manifest.js';
import { filesRead, ownStoredFiles } from '../../repo/verify-files.js';
import type { FileProblem } from './archive.js';
import type { BackupWal } from './continuity.js';
import { checkFiles, type FilePass } from './file-pass.js';

export type BackupStatus = 'valid' | 'consistent-only' | 'damaged';

export interface BackupReport {
  readonly record: BackupRecord;
  status: BackupStatus;
  /** Its repository files (and manifest) found wrong, its own or another backup's that it needs. */
  readonly damaged: FileProblem[];
  wal?: BackupWal;
  /** Set when its status makes verify fail (see index.ts: a consistent-only backup a newer valid one covers does not). */
  failing?: boolean;
}

/**
 * Verifies backups `records` (oldest first; `known`: every label backup.info lists). Resolves to one report per
 * backup, without the WAL part.
 */
export async function verifyBackups(
  pass: FilePass,
  records: readonly BackupRecord[],
  known: ReadonlySet<string>,
): Promise<BackupReport[]> {
  const { repo } = pass;
  const damagedPaths = new Map<string, FileProblem>();
  /** Backups whose manifest cannot be read: their files are checked as the backups using them record them. */
  const unreadable = new Set<string>();
  const checkedForUnreadable = new Set<string>();
  const reports: BackupReport[] = [];
  for (const record of records) {
    const report: BackupReport = { record, status: 'valid', damaged: [] };
    reports.push(report);
    let manifest: Manifest;
    try {
      manifest = await repo.backups.manifest(record.label);
    } catch (error) {
      if (!isPgStashError(error)) throw error;
      unreadable.add(record.label);
      report.damaged.push({
        file: `${record.label}/backup.manifest`,
        message: messageOf(error),
        code: error.code,
      });
      continue;
    }
    const checks = ownStoredFiles(
      repo.stanza,
      manifest,
      (holder) => holder === record.label || unreadable.has(holder),
    ).filter((check) => !checkedForUnreadable.has(check.path));
    for (const check of checks)
      if (!check.path.includes(`/${record.label}/`)) checkedForUnreadable.add(check.path);
    for await (const outcome of checkFiles(pass, checks)) {
      if (outcome.problem !== undefined)
        damagedPaths.set(outcome.check.path, { file: outcome.check.path, ...outcome.problem });
    }
    const reported = new Set<string>();
    const lostHolders = new Map<string, number>();
    for (const file of manifest.files) {
      for (const { path, holder } of filesRead(repo.stanza, file)) {
        if (!known.has(holder)) {
          lostHolders.set(holder, (lostHolders.get(holder) ?? 0) + 1);
          continue;
        }
        const problem = damagedPaths.get(path);
        if (problem !== undefined && !reported.has(path)) {
          reported.add(path);
          report.damaged.push(problem);
        }
      }
    }
    for (const [holder, count] of lostHolders) {
      report.damaged.push({
        file: `${holder}/`,
        message: `${count} files of backup ${record.label} are held by backup ${holder}, which backup.info does not list`,
        code: ERROR_CODES.fileMissing.code,
      });
    }
  }
  for (const report of reports) if (report.damaged.length > 0) report.status = 'damaged';
  return reports;
}
