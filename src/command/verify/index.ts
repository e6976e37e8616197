// verify: read every repository file back without restoring (checksums, sizes, authentication), check each
// backup's WAL to consistency and to the end of the archive, report everything found, exit non-zero if anything
// is wrong. --since-last skips files unchanged since the last verify that passed (the ledger, verify-ledger.ts).
import { ERROR_CODES, isPgStashError, messageOf, PgStashError } from '../../common/errors.js';
import { log } from '../../common/log.js';
import { markRestoreReading } from '../../common/read-marker.js';
import type { RepoOptions } from '../../config/load.js';
import { parseWalFileName, WAL_SEGMENT_SIZE_DEFAULT } from '../../postgres/wal-name.js';
import type { ArchiveInfo } from '../../repo/archive-info.js';
import type { BackupInfo, BackupRecord } from '../../repo/backup-info.js';
import { archiveId } from '../../repo/layout.js';
import { Repository } from '../../repo/repository.js';
import { readThrough } from '../../repo/verify-files.js';
import {
  checkHistoryManifests,
  checkInfoFilePair,
  stanzaInfoPairs,
  stanzaKeyPair,
} from '../../repo/verify-info-files.js';
import { checkLedgerLines, isLedgerFile, LedgerCursor, LedgerWriter } from '../../repo/verify-ledger.js';
import { backupWalSegmentSize } from '../archive/backup-wal.js';
import type { CommandContext } from '../context.js';
import { selectedRepos } from '../repo-select.js';
import { verifyArchive } from './archive.js';
import { verifyBackups } from './backups.js';
import { checkBackupWal, type SegmentRuns } from './continuity.js';
import { newCounts, type FilePass } from './file-pass.js';
import { WorkerPool } from '../../io/worker/pool.js';
import type { VerifyJob, VerifyReply, VerifyWorkerData } from './verify-worker.js';
import type { TimelineHistoryEntry } from '../../postgres/timeline.js';
import { renderVerifyJson, renderVerifyText, type RepoReport, type VerifyReport } from './report.js';

interface VerifyRequest {
  readonly stanza: string;
  readonly set: string | undefined;
  readonly sinceLast: boolean;
  readonly concurrency: number;
  readonly signal: AbortSignal;
}

export async function verify(context: CommandContext): Promise<number> {
  const { config } = context;
  const stanza = config.require('stanza');
  const request: VerifyRequest = {
    stanza,
    set: config.get('set'),
    sinceLast: config.get('since-last'),
    concurrency: config.get('process-max'),
    signal: context.signal,
  };
  // Expire keeps the files and WAL of a stanza while a reader is marked (read-marker.ts); a backup is not blocked.
  const reading = await markRestoreReading(config.get('lock-path'), stanza);
  const report: VerifyReport = { stanza, repos: [] };
  try {
    for (const options of selectedRepos(config)) report.repos.push(await verifyRepo(options, request));
  } finally {
    await reading?.release();
  }
  context.out(config.get('output') === 'json' ? renderVerifyJson(report) : renderVerifyText(report));
  const failed = report.repos.filter((repo) => !repo.ok);
  if (failed.length === 0) return 0;
  log.error(
    `[${ERROR_CODES.verifyFailed.code}]: verify found problems in ${failed.map((repo) => `repo${repo.repo}`).join(', ')}`,
  );
  return ERROR_CODES.verifyFailed.code;
}

/** The cluster's WAL segment size: from a backup's pg_control, else the size of the first segment archived. */
async function segmentSizeOf(
  repo: Repository,
  records: readonly BackupRecord[],
  ids: readonly string[],
): Promise<number> {
  for (const record of [...records].reverse()) {
    try {
      return await backupWalSegmentSize(repo, await repo.backups.manifest(record.label));
    } catch (error) {
      if (!isPgStashError(error)) throw error;
    }
  }
  for (const id of ids) {
    for (const dir of await repo.wal.segmentDirectories(id)) {
      for (const file of await repo.wal.filesIn(id, dir)) {
        if (parseWalFileName(file.walFileName)?.kind !== 'segment') continue;
        const size = await readThrough(repo, { path: file.path, expect: { sha256: file.sha256 } }).catch(
          () => undefined,
        );
        if (typeof size === 'number' && size > 0 && (size & (size - 1)) === 0) return size;
      }
    }
  }
  return WAL_SEGMENT_SIZE_DEFAULT;
}

async function verifyRepo(options: RepoOptions, request: VerifyRequest): Promise<RepoReport> {
  const repo = await Repository.open(options, request.stanza);
  const report: RepoReport = {
    repo: options.index,
    problems: [],
    infoFiles: [],
    archives: [],
    backups: [],
    counts: newCounts(),
    ledgerWritten: false,
    ok: false,
  };
  // The key first: without it nothing of an encrypted stanza reads (a wrong passphrase still stops verify: 95).
  if (repo.encrypted) {
    const keyProblems = await checkInfoFilePair(repo, stanzaKeyPair(repo));
    report.infoFiles.push(...keyProblems);
    const unusable = keyProblems.find((problem) => problem.severity === 'error');
    if (unusable !== undefined) {
      report.problems.push({
        file: 'stanza.key',
        message: `neither copy of the stanza key is usable, nothing encrypted can be read: ${unusable.message}`,
        code: unusable.code,
      });
      return report;
    }
  } else {
    // Asked of the store: verify reads the info files through checkInfoFile, which reports an encrypted one as a
    // damaged file where every other command fails with the stanza's crypto error (95).
    await repo.refuseEncryptedStanza();
  }
  const key = await repo.requireKey();
  // Files are read on process-max worker threads, two each (one waits for the disk while the other decodes). They
  // start here: loading their code (about a tenth of a second each, more on a busy machine) overlaps the reads of the
  // info files and the ledger that come first.
  const workerData: VerifyWorkerData = { repo: repo.options, stanza: repo.stanza, key };
  const pool = new WorkerPool<VerifyJob, VerifyReply>(new URL('./verify-worker.js', import.meta.url), {
    size: request.concurrency,
    jobsPerWorker: 2,
    workerData,
    signal: request.signal,
  });
  try {
    await verifyRepoFiles(repo, report, request, key, pool);
  } finally {
    await pool.close();
  }
  const warnings = report.infoFiles.filter((problem) => problem.severity === 'warning');
  if (warnings.length > 0) {
    log.warn(
      `${repo.name}: ${warnings.map((problem) => problem.file).join(', ')}: damaged or missing, the other copy is used`,
    );
  }
  return report;
}

/** Everything verify reads of `repo` once its key is known, into `report`; the files read on `pool`. */
async function verifyRepoFiles(
  repo: Repository,
  report: RepoReport,
  request: VerifyRequest,
  key: Buffer | undefined,
  pool: WorkerPool<VerifyJob, VerifyReply>,
): Promise<void> {
  const fatal = (what: string, error: unknown): undefined => {
    if (!isPgStashError(error)) throw error;
    report.problems.push({ file: what, message: messageOf(error), code: error.code });
    return undefined;
  };
  const archiveInfo: ArchiveInfo | undefined = await repo
    .requireArchiveInfo()
    .catch((error: unknown) => fatal('archive.info', error));
  const backupInfo: BackupInfo | undefined = await repo.backups
    .requireInfo()
    .catch((error: unknown) => fatal('backup.info', error));
  const all = backupInfo?.backups ?? [];
  let records = all;
  if (request.set !== undefined) {
    const chosen = request.set === 'latest' ? all.at(-1) : all.find((record) => record.label === request.set);
    if (chosen === undefined) {
      throw new PgStashError('backupSetInvalid', `backup set '${request.set}' is not in ${repo.name}`, {
        hint: `run 'pgstash --stanza=${request.stanza} info' to list the backups`,
      });
    }
    const chain = new Set([...(chosen.references ?? []), chosen.label]);
    records = all.filter((record) => chain.has(record.label));
  }
  const labels = records.map((record) => record.label);
  for (const pair of stanzaInfoPairs(repo, key, labels))
    report.infoFiles.push(...(await checkInfoFilePair(repo, pair)));
  report.infoFiles.push(
    ...(await checkHistoryManifests(repo, request.set === undefined ? undefined : new Set(labels))),
  );
  // With --since-last the ledger in force is read beside the files (LedgerCursor); without, it is checked here,
  // then, when sound, read beside the files too: a file it records as decoded has just its stored bytes hashed.
  let ledgerSound = false;
  if (!request.sinceLast) {
    const ledgerProblem = await checkLedgerLines(repo);
    if (ledgerProblem !== undefined) report.problems.push(ledgerProblem);
    ledgerSound = ledgerProblem === undefined;
  }

  let ledger: LedgerCursor | undefined;
  if (request.sinceLast) {
    ledger = await LedgerCursor.open(repo).catch((error: unknown) => fatal('verify.ledger', error));
    if (ledger === undefined && report.problems.length === 0)
      log.info(`${repo.name}: no verify ledger yet: every file is read`);
    if (ledger !== undefined) report.sinceLast = ledger.written;
  } else if (ledgerSound) ledger = await LedgerCursor.open(repo).catch(() => undefined);
  // Only a verify of everything records what it read (a --set verify leaves the ledger as it is).
  const writer = request.set === undefined ? new LedgerWriter(repo) : undefined;
  let replaceLedger = false;
  const pass: FilePass = {
    repo,
    read: (check, storedSha256) => pool.run({ check, storedSha256 }),
    sinceLast: request.sinceLast,
    concurrency: request.concurrency * 2,
    counts: report.counts,
    signal: request.signal,
    ledger,
    writer,
  };
  try {
    const ids = (archiveInfo?.history ?? [])
      .map((db) => archiveId(db.version, db.id))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const segmentSize = await segmentSizeOf(repo, records, ids);
    const walOf = new Map<string, { runs: SegmentRuns; histories: Map<number, TimelineHistoryEntry[]> }>();
    for (const id of ids) {
      const { report: archive, runs, histories } = await verifyArchive(pass, id, segmentSize);
      report.archives.push(archive);
      walOf.set(id, { runs, histories });
    }
    const known = new Set(all.map((record) => record.label));
    report.backups.push(...(await verifyBackups(pass, records, known)));
    const ledgerError = await ledger?.close();
    if (ledgerError !== undefined) fatal('verify.ledger', ledgerError);
    for (const backup of report.backups) {
      const db = archiveInfo?.history.find((entry) => entry.id === backup.record.dbId);
      const wal = db === undefined ? undefined : walOf.get(archiveId(db.version, db.id));
      if (wal === undefined) {
        backup.status = 'damaged';
        backup.damaged.push({
          file: 'archive.info',
          message: `no archive for the backup's cluster (db id ${backup.record.dbId})`,
          code: ERROR_CODES.archiveMismatch.code,
        });
        continue;
      }
      backup.wal = checkBackupWal(wal.runs, backup.record, wal.histories);
      if (backup.wal.consistencyGaps.length > 0) backup.status = 'damaged';
      else if (backup.status === 'valid' && backup.wal.pitrGaps.length > 0) backup.status = 'consistent-only';
    }
    // A backup restorable to consistency only fails verify unless a newer backup recovers to the end of the
    // archive: a gap expire left behind an older backup (repo-retention-archive) is reported, not an error.
    const newestValid = report.backups.filter((backup) => backup.status === 'valid').at(-1)?.record.label;
    for (const backup of report.backups) {
      backup.failing =
        backup.status === 'damaged' ||
        (backup.status === 'consistent-only' &&
          (newestValid === undefined || newestValid < backup.record.label));
    }
    report.ok = passed(report, () => false);
    // A damaged ledger found by a verify that read everything is replaced by this verify's: it fails this run (the
    // repository held a damaged file), and the next one no longer finds it.
    replaceLedger =
      report.ok || (!request.sinceLast && passed(report, (file) => isLedgerFile(repo.stanza, file)));
  } catch (error) {
    await writer?.discard();
    throw error;
  }
  if (writer !== undefined) {
    if (replaceLedger) report.ledgerWritten = await writer.commit();
    else await writer.discard();
  }
}

/** Whether nothing in `report` makes verify fail, leaving out the problems of files `ignored`. */
function passed(report: RepoReport, ignored: (file: string) => boolean): boolean {
  return (
    report.problems.every((problem) => ignored(problem.file)) &&
    // A damaged copy fails verify too, its twin sound or not: the repository holds a damaged file (failing storage
    // shows so first), and one more fault would lose that info file.
    report.infoFiles.every((problem) => ignored(problem.file)) &&
    report.archives.every((archive) => archive.damaged.length === 0) &&
    report.backups.every((backup) => backup.failing !== true)
  );
}
