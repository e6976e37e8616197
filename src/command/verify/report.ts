// verify's report: per repository, the files read, each archive id (gaps, damaged WAL), each backup's status, as
// text for a DBA and as JSON (docs/verify-json.md).
import { localTimeText } from '../../common/time-text.js';
import type { ArchiveReport, FileProblem } from './archive.js';
import type { BackupReport } from './backups.js';
import type { WalGap } from './continuity.js';
import type { FileCounts } from './file-pass.js';
import type { InfoFileProblem } from '../../repo/verify-info-files.js';

export interface RepoReport {
  readonly repo: number;
  /** Problems that are no one file's: backup.info or archive.info unreadable, a damaged ledger. */
  readonly problems: FileProblem[];
  /** Copies of info files (and history manifests) missing or damaged: a warning while the other copy is sound. */
  readonly infoFiles: InfoFileProblem[];
  readonly archives: ArchiveReport[];
  readonly backups: BackupReport[];
  readonly counts: FileCounts;
  /** --since-last and a ledger was found: when the verify that wrote it ended (epoch ms). */
  sinceLast?: number;
  /** The ledger was written (the verify passed). */
  ledgerWritten: boolean;
  ok: boolean;
}

export interface VerifyReport {
  readonly stanza: string;
  readonly repos: RepoReport[];
}

const STATUS_TEXT: Record<BackupReport['status'], string> = {
  valid: 'valid',
  'consistent-only': 'restorable to consistency only',
  damaged: 'damaged',
};

function gapText(gap: WalGap): string {
  return gap.from === gap.to ? gap.from : `${gap.from} to ${gap.to}`;
}

function problemLine(indent: string, problem: FileProblem): string {
  return `${indent}${problem.file}: [${String(problem.code).padStart(3, '0')}] ${problem.message}`;
}

export function renderVerifyText(report: VerifyReport): string {
  const lines = [`stanza: ${report.stanza}`];
  for (const repo of report.repos) {
    const { counts } = repo;
    lines.push(`    repo${repo.repo}: ${repo.ok ? 'ok' : 'error'}`);
    const since =
      repo.sinceLast === undefined
        ? ''
        : `, ${counts.unchanged} unchanged since the last verify (${localTimeText(repo.sinceLast)})`;
    // Files read as stored: their stored bytes hashed as when a verify last decoded them, not decoded again.
    const asStored = counts.asStored === 0 ? '' : `, ${counts.asStored} of them as stored`;
    lines.push(
      `        files: ${counts.checked} checked, ${counts.read} read (${counts.bytes} bytes)${asStored}${since}`,
    );
    for (const problem of repo.problems) lines.push(problemLine('        error: ', problem));
    for (const problem of repo.infoFiles) {
      const twin = problem.severity === 'warning' ? ' (the other copy is sound and used)' : '';
      lines.push(`${problemLine('        info file: ', problem)}${twin}`);
    }
    for (const archive of repo.archives) {
      const range = archive.min === undefined ? 'no segments' : `${archive.min} to ${archive.max ?? ''}`;
      lines.push(
        `        archive ${archive.id}: ${archive.segments} segments, ${range}, timelines ${archive.timelines.join(', ')}`,
      );
      for (const gap of archive.gaps) lines.push(`            gap: ${gapText(gap)} missing`);
      for (const problem of archive.damaged) lines.push(problemLine('            damaged: ', problem));
    }
    for (const backup of repo.backups) {
      const { record, wal } = backup;
      let detail = '';
      if (wal !== undefined && backup.status !== 'damaged' && wal.pitrEnd !== undefined)
        detail = `, recovers to ${wal.pitrEnd} on timeline ${wal.timeline}`;
      lines.push(`        backup ${record.label} (${record.type}): ${STATUS_TEXT[backup.status]}${detail}`);
      for (const problem of backup.damaged) lines.push(problemLine('            bad file: ', problem));
      for (const gap of wal?.consistencyGaps ?? [])
        lines.push(`            wal missing from its start to its stop: ${gapText(gap)}`);
      for (const gap of wal?.pitrGaps ?? [])
        lines.push(
          `            wal missing after its stop (point-in-time recovery ends before it): ${gapText(gap)}`,
        );
    }
  }
  return `${lines.join('\n')}\n`;
}

function gapJson(gap: WalGap): unknown {
  return { timeline: gap.timeline, from: gap.from, to: gap.to };
}

function problemJson(problem: FileProblem): unknown {
  return { file: problem.file, code: problem.code, message: problem.message };
}

export function renderVerifyJson(report: VerifyReport): string {
  return `${JSON.stringify(
    {
      stanza: report.stanza,
      status: report.repos.every((repo) => repo.ok) ? 'ok' : 'error',
      repos: report.repos.map((repo) => ({
        key: repo.repo,
        status: repo.ok ? 'ok' : 'error',
        files: {
          checked: repo.counts.checked,
          read: repo.counts.read,
          bytes: repo.counts.bytes,
          unchanged: repo.counts.unchanged,
          'as-stored': repo.counts.asStored,
        },
        'since-last': repo.sinceLast === undefined ? null : Math.floor(repo.sinceLast / 1000),
        'ledger-written': repo.ledgerWritten,
        problems: repo.problems.map(problemJson),
        'info-files': repo.infoFiles.map((problem) => ({
          file: problem.file,
          code: problem.code,
          message: problem.message,
          severity: problem.severity,
        })),
        archives: repo.archives.map((archive) => ({
          id: archive.id,
          segments: archive.segments,
          min: archive.min ?? null,
          max: archive.max ?? null,
          timelines: archive.timelines,
          gaps: archive.gaps.map(gapJson),
          damaged: archive.damaged.map(problemJson),
        })),
        backups: repo.backups.map((backup) => ({
          label: backup.record.label,
          type: backup.record.type,
          status: backup.status,
          failing: backup.failing === true,
          damaged: backup.damaged.map(problemJson),
          wal: {
            start: backup.record.walStart,
            stop: backup.record.walStop,
            missing: (backup.wal?.consistencyGaps ?? []).map(gapJson),
          },
          pitr: {
            timeline: backup.wal?.timeline ?? null,
            end: backup.wal?.pitrEnd ?? null,
            gaps: (backup.wal?.pitrGaps ?? []).map(gapJson),
          },
        })),
      })),
    },
    null,
    2,
  )}\n`;
}
