// verify of one archive id: every WAL file read back (segments, partial and backup files, timeline history files),
// the segments' sizes, names archived twice with different contents, the timelines, and the runs of segments
// that continuity is checked against.
import { ERROR_CODES } from '../../common/errors.js';
import type { TimelineHistoryEntry } from '../../postgres/timeline.js';
import { parseWalFileName } from '../../postgres/wal-name.js';
import type { ArchivedFile } from '../../repo/wal-archive.js';
import type { StoredCheck } from '../../repo/verify-files.js';
import { readArchivedTimelines } from '../archive/timelines.js';
import { SegmentRuns, type WalGap } from './continuity.js';
import { checkFiles, type FilePass } from './file-pass.js';

/** A repository file verify found wrong, and why. */
export interface FileProblem {
  readonly file: string;
  readonly message: string;
  readonly code: number;
}

export interface ArchiveReport {
  readonly id: string;
  /** Sound segments. */
  segments: number;
  min?: string;
  max?: string;
  /** Timelines with segments or a history file. */
  readonly timelines: number[];
  /** Missing between the oldest and the newest segment of each timeline. */
  gaps: WalGap[];
  readonly damaged: FileProblem[];
}

interface WalCheck extends StoredCheck {
  readonly file: ArchivedFile;
}

/** The archive id's WAL files in ascending path order: history files and segment directories by name. */
async function* walChecks(pass: FilePass, id: string, report: ArchiveReport): AsyncGenerator<WalCheck> {
  const { wal } = pass.repo;
  const histories = await wal.historyFiles(id);
  const dirs = await wal.segmentDirectories(id);
  const entries = [
    ...histories.map((file) => ({ name: file.name, file })),
    ...dirs.map((dir) => ({ name: dir, dir })),
  ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if ('file' in entry) {
      yield { path: entry.file.path, expect: { sha256: entry.file.sha256 }, file: entry.file };
      continue;
    }
    const files = await wal.filesIn(id, entry.dir);
    const byName = new Map<string, ArchivedFile[]>();
    for (const file of files) byName.set(file.walFileName, [...(byName.get(file.walFileName) ?? []), file]);
    for (const [name, copies] of byName) {
      if (new Set(copies.map((copy) => copy.sha256)).size > 1) {
        report.damaged.push({
          file: copies.map((copy) => copy.path).join(', '),
          message: `WAL file '${name}' is archived with different contents`,
          code: ERROR_CODES.archiveDuplicate.code,
        });
      }
    }
    for (const file of files) yield { path: file.path, expect: { sha256: file.sha256 }, file };
  }
}

/**
 * Reads every WAL file of archive id `id` and returns what it found, the runs of sound segments and the parsed
 * timeline histories. `segmentSize` is the cluster's WAL segment size: a segment of another size is damaged.
 */
export async function verifyArchive(
  pass: FilePass,
  id: string,
  segmentSize: number,
): Promise<{ report: ArchiveReport; runs: SegmentRuns; histories: Map<number, TimelineHistoryEntry[]> }> {
  const report: ArchiveReport = { id, segments: 0, timelines: [], gaps: [], damaged: [] };
  const runs = new SegmentRuns(segmentSize);
  const timelines = new Set<number>();
  for await (const outcome of checkFiles(pass, walChecks(pass, id, report))) {
    const { file } = outcome.check;
    const parsed = parseWalFileName(file.walFileName);
    if (parsed !== undefined) timelines.add(parsed.timeline);
    let problem = outcome.problem;
    if (
      problem === undefined &&
      parsed?.kind === 'segment' &&
      outcome.size !== undefined &&
      outcome.size !== segmentSize
    ) {
      problem = {
        message: `'${pass.repo.location}/${file.path}' holds ${outcome.size} bytes, not a ${segmentSize}-byte segment`,
        code: ERROR_CODES.fileInvalid.code,
      };
    }
    if (problem !== undefined) {
      report.damaged.push({ file: file.path, ...problem });
      continue;
    }
    if (parsed?.kind !== 'segment') continue;
    runs.add(file.walFileName);
    report.min ??= file.walFileName;
    report.max = file.walFileName;
  }
  const histories = new Map<number, TimelineHistoryEntry[]>();
  const damagedPaths = new Set(report.damaged.map((problem) => problem.file));
  for (const timeline of await readArchivedTimelines(pass.repo, [id], (unreadable) => {
    // A history file whose content failed its checksum is already reported; one that reads but does not parse not.
    if (![...damagedPaths].some((path) => path.endsWith(`/${unreadable.file}`))) {
      const file = `${id}/${unreadable.file}`;
      report.damaged.push({ file, message: unreadable.message, code: ERROR_CODES.fileInvalid.code });
    }
  })) {
    histories.set(timeline.timeline, timeline.history as TimelineHistoryEntry[]);
    timelines.add(timeline.timeline);
  }
  report.segments = runs.count;
  report.gaps = runs.gaps();
  report.timelines.push(...[...timelines].sort((a, b) => a - b));
  return { report, runs, histories };
}
