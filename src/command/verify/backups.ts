// verify of a stanza's backups: each backup's own repository files read back, oldest first, then every file each
// backup's manifest needs (its own and those it takes from older backups) checked against what was found wrong.
// A backup's holders are always older than it, so one manifest is in memory at a time (read again only when
// something is damaged) and only the damaged files are remembered.
import { ERROR_CODES, isPgStashError, messageOf } from '../../common/errors.js';
import type { BackupRecord } from '../../repo/backup-info.js';
import type { Manifest } from '../../repo/manifest.js';
import { filesRead, ownStoredFiles, type StoredCheck } from '../../repo/verify-files.js';
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

/** A backup whose own files are being read: what its report needs once they all have been. */
interface BackupInProgress {
  readonly report: BackupReport;
  /** Its manifest could be read (else its report already says so). */
  readonly readable: boolean;
  /** Files it needs from backups backup.info does not list, by holder. */
  readonly lostHolders: ReadonlyMap<string, number>;
}

/** A file to read and the backup it is read for. */
interface BackupCheck extends StoredCheck {
  readonly backup: BackupInProgress;
}

/**
 * Verifies backups `records` (oldest first; `known`: every label backup.info lists). Resolves to one report per
 * backup, without the WAL part. The backups' files are one stream of reads, so the next backup's files are read
 * while the last large file of the one before still is (no wait at each backup's end); each backup's report is
 * completed once all files of it and of older backups have come back.
 */
export async function verifyBackups(
  pass: FilePass,
  records: readonly BackupRecord[],
  known: ReadonlySet<string>,
): Promise<BackupReport[]> {
  const { repo } = pass;
  const damagedPaths = new Map<string, FileProblem>();
  const reports: BackupReport[] = [];
  /** Backups whose files are being read (in order), not yet completed. */
  const inProgress: BackupInProgress[] = [];

  /** Each backup's own files in turn, one manifest in memory at a time (dropped once its files are listed). */
  async function* checks(): AsyncGenerator<BackupCheck> {
    /** Backups whose manifest cannot be read: their files are checked as the backups using them record them. */
    const unreadable = new Set<string>();
    const checkedForUnreadable = new Set<string>();
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
        inProgress.push({ report, readable: false, lostHolders: new Map() });
        continue;
      }
      const lostHolders = new Map<string, number>();
      for (const file of manifest.files) {
        for (const { holder } of filesRead(repo.stanza, file))
          if (!known.has(holder)) lostHolders.set(holder, (lostHolders.get(holder) ?? 0) + 1);
      }
      const backup: BackupInProgress = { report, readable: true, lostHolders };
      inProgress.push(backup);
      const own = ownStoredFiles(
        repo.stanza,
        manifest,
        (holder) => holder === record.label || unreadable.has(holder),
      ).filter((check) => !checkedForUnreadable.has(check.path));
      for (const check of own)
        if (!check.path.includes(`/${record.label}/`)) checkedForUnreadable.add(check.path);
      for (const check of own) yield { ...check, backup };
    }
  }

  /** Completes a backup's report once its files and those of older backups have all been read. */
  const completeReport = async ({ report, readable, lostHolders }: BackupInProgress): Promise<void> => {
    const { record } = report;
    // Its manifest again only when something is damaged (rare): which of the damaged files it needs.
    const manifest =
      readable && damagedPaths.size > 0
        ? await repo.backups.manifest(record.label).catch((error: unknown) => {
            if (!isPgStashError(error)) throw error;
            report.damaged.push({
              file: `${record.label}/backup.manifest`,
              message: messageOf(error),
              code: error.code,
            });
            return undefined;
          })
        : undefined;
    if (manifest !== undefined) {
      const reported = new Set<string>();
      for (const file of manifest.files) {
        for (const { path, holder } of filesRead(repo.stanza, file)) {
          if (!known.has(holder)) continue;
          const problem = damagedPaths.get(path);
          if (problem !== undefined && !reported.has(path)) {
            reported.add(path);
            report.damaged.push(problem);
          }
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
  };

  /** Completes the reports of the backups before `until` (all when undefined): their files have all been read. */
  const complete = async (until: BackupInProgress | undefined): Promise<void> => {
    for (let backup = inProgress[0]; backup !== undefined && backup !== until; backup = inProgress[0]) {
      inProgress.shift();
      await completeReport(backup);
    }
  };

  for await (const outcome of checkFiles(pass, checks())) {
    await complete(outcome.check.backup);
    if (outcome.problem !== undefined)
      damagedPaths.set(outcome.check.path, { file: outcome.check.path, ...outcome.problem });
  }
  await complete(undefined);
  for (const report of reports) if (report.damaged.length > 0) report.status = 'damaged';
  return reports;
}
