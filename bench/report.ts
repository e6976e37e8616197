// The benchmark report: environment, the archive and backup tables side by side, as markdown.
import { cpus, release, totalmem } from 'node:os';
import type { ArchiveResults, PerTool } from './archive.js';
import type { BackupResults, BackupRun } from './backup.js';
import type { Measurement } from './measure.js';
import type { IncrementalResults } from './incremental.js';
import type { S3Results } from './s3.js';
import { renderS3 } from './s3-report.js';
import type { VerifyResults } from './verify.js';
import { renderVerify } from './verify-report.js';
import type { AsyncArchiveResults } from './archive-async.js';
import { renderArchiveAsync } from './archive-async-report.js';
import { renderIncremental } from './incremental-report.js';
import type { Environment } from './prerequisites.js';
import type { BenchSettings } from './settings.js';
import { quantile, summarize } from './stats.js';
import { formatMiB, formatMs, formatRatio, formatSeconds, markdownTable, type Align } from './table.js';
import type { ToolName } from './tools.js';

export interface ReportInput {
  readonly settings: BenchSettings;
  readonly environment: Environment;
  readonly started: Date;
  readonly elapsedMs: number;
  /** 1-minute load averages sampled at the start and after each case, with what was just done. */
  readonly load: readonly { readonly when: string; readonly load1: number }[];
  readonly archive?: ArchiveResults;
  readonly backup?: BackupResults;
  readonly incremental?: IncrementalResults;
  readonly s3?: S3Results;
  readonly verify?: VerifyResults;
  readonly archiveAsync?: AsyncArchiveResults;
}

const TOOLS: readonly ToolName[] = ['pgstash', 'pgbackrest'];

export function renderReport(input: ReportInput): string {
  const { settings, environment } = input;
  const cpu = cpus();
  const parts = [
    `# pgstash vs pgBackRest: ${input.started.toISOString()}`,
    '',
    `- Machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${String(cpu.length)} CPUs, ` +
      `${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}`,
    `- Versions: ${environment.versions.pgstash} on Node ${environment.versions.node}; ` +
      `${environment.versions.pgbackrest}; ${environment.versions.postgres}`,
    `- Settings: ${describeSettings(settings)}`,
    `- Load average (1 min): ${input.load.map((entry) => `${entry.load1.toFixed(2)} ${entry.when}`).join(', ')}`,
    `- Duration: ${formatSeconds(input.elapsedMs)}`,
    '',
    'Ratios are pgstash / pgBackRest: below 1 pgstash is faster or smaller. How to read this: docs/benchmark.md.',
  ];
  if (input.archive !== undefined) parts.push('', renderArchive(input.archive));
  if (input.backup !== undefined) parts.push('', renderBackup(input.backup, settings.runs));
  if (input.incremental !== undefined) parts.push('', renderIncremental(input.incremental));
  if (input.s3 !== undefined) parts.push('', renderS3(input.s3, settings.runs));
  if (input.verify !== undefined) parts.push('', renderVerify(input.verify));
  if (input.archiveAsync !== undefined) parts.push('', renderArchiveAsync(input.archiveAsync));
  return `${parts.join('\n')}\n`;
}

function describeSettings(settings: BenchSettings): string {
  const parts = [
    `cases ${settings.cases.join(',')}`,
    `compress ${settings.compressTypes.join(',')} (default levels, the same for both tools: lz4 1, zst 3)`,
  ];
  if (settings.cases.includes('archive')) parts.push(`${String(settings.segments)} WAL segments`);
  if (settings.cases.some((name) => name !== 'archive' && name !== 'archive-async'))
    parts.push(`pgbench scale ${String(settings.scale)}`);
  if (settings.cases.includes('backup')) {
    parts.push(
      `process-max ${settings.processMax.join(',')}`,
      `${String(settings.runs)} run(s) per backup case`,
    );
  }
  if (settings.bundle && (settings.cases.includes('backup') || settings.cases.includes('s3')))
    parts.push('repo1-bundle=y for both tools (backup, s3)');
  if (settings.cases.includes('archive-async'))
    parts.push(`archive-async load ${String(settings.archiveSeconds)} s`);
  if (settings.cases.includes('chain')) parts.push(`chain of ${String(settings.chainLength)} incrementals`);
  return parts.join('; ');
}

function renderArchive(results: ArchiveResults): string {
  const left: Align[] = ['left', 'left'];
  const timeRows: string[][] = [];
  const resourceRows: string[][] = [];
  const storedRows: string[][] = [];
  for (const entry of results.byCompress) {
    for (const [operation, perTool, plain] of [
      ['archive-push', entry.push, entry.plain.push],
      ['archive-get', entry.get, entry.plain.get],
    ] as const) {
      const wall = summaries(perTool, (m) => m.wallMs);
      const plainWall = summarize(plain.map((m) => m.wallMs));
      timeRows.push([
        operation,
        entry.compress,
        formatMs(wall.pgstash.median),
        formatMs(wall.pgstash.p90),
        formatMs(wall.pgbackrest.median),
        formatMs(wall.pgbackrest.p90),
        formatRatio(wall.pgstash.median, wall.pgbackrest.median),
        formatRatio(wall.pgstash.p90, wall.pgbackrest.p90),
        formatMs(plainWall.median),
        formatRatio(plainWall.median, wall.pgbackrest.median),
      ]);
      const cpu = summaries(perTool, (m) => m.cpuMs);
      const rss = summaries(perTool, (m) => m.maxRssKiB * 1024);
      resourceRows.push([
        operation,
        entry.compress,
        formatMs(cpu.pgstash.mean),
        formatMs(cpu.pgbackrest.mean),
        formatRatio(cpu.pgstash.mean, cpu.pgbackrest.mean),
        formatMiB(rss.pgstash.max),
        formatMiB(rss.pgbackrest.max),
        formatRatio(rss.pgstash.max, rss.pgbackrest.max),
      ]);
    }
    storedRows.push([
      entry.compress,
      formatMiB(entry.storedBytes.pgstash / results.segments),
      formatMiB(entry.storedBytes.pgbackrest / results.segments),
      formatRatio(entry.storedBytes.pgstash, entry.storedBytes.pgbackrest),
      `${((100 * entry.storedBytes.pgstash) / (results.segments * results.segmentBytes)).toFixed(1)} %`,
      `${((100 * entry.storedBytes.pgbackrest) / (results.segments * results.segmentBytes)).toFixed(1)} %`,
    ]);
  }
  const startup = [
    startupRow('node -e 0', results.nodeBare),
    startupRow('pgstash version', results.version.pgstash),
    startupRow('pgbackrest version', results.version.pgbackrest),
  ];
  return [
    `## Archive: one process per 16 MiB WAL segment (${String(results.segments)} real segments per tool and compression)`,
    '',
    'Wall time per segment:',
    '',
    markdownTable(
      [
        'operation',
        'compress',
        'pgstash median',
        'pgstash p90',
        'pgBackRest median',
        'pgBackRest p90',
        'ratio median',
        'ratio p90',
        'plain Node median',
        'plain / pgBackRest',
      ],
      timeRows,
      left,
    ),
    '',
    '"plain Node" is bench/plain-archive.cts: the same data work (read, SHA-256, compress or decompress, write, ' +
      'rename) as straight-line Node with the same libraries, and nothing else: what any Node program started ' +
      'per segment pays. It does one step after another, so it is not a lower bound.',
    '',
    'CPU time (user+sys, mean per segment; GNU time counts in 10 ms steps) and peak RSS (largest of all runs):',
    '',
    markdownTable(
      [
        'operation',
        'compress',
        'pgstash CPU',
        'pgBackRest CPU',
        'ratio',
        'pgstash RSS',
        'pgBackRest RSS',
        'ratio',
      ],
      resourceRows,
      left,
    ),
    '',
    'Archive size per segment (du -sb of the archive directory / segments; % of 16 MiB):',
    '',
    markdownTable(['compress', 'pgstash', 'pgBackRest', 'ratio', 'pgstash %', 'pgBackRest %'], storedRows, [
      'left',
    ]),
    '',
    `Startup reference (${String(results.nodeBare.length)} runs each, same way of starting as above):`,
    '',
    markdownTable(['program', 'wall median', 'wall p90', 'CPU mean', 'peak RSS'], startup, ['left']),
  ].join('\n');
}

function startupRow(label: string, runs: readonly Measurement[]): string[] {
  const wall = summarize(runs.map((m) => m.wallMs));
  const cpu = summarize(runs.map((m) => m.cpuMs));
  const rss = summarize(runs.map((m) => m.maxRssKiB * 1024));
  return [label, formatMs(wall.median), formatMs(wall.p90), formatMs(cpu.mean), formatMiB(rss.max)];
}

function renderBackup(results: BackupResults, runs: number): string {
  const of = runs > 1 ? ` (median of ${String(runs)} runs)` : '';
  const table = (operation: 'backup' | 'restore'): string => {
    const rows = results.cases.map((entry) => {
      const figure = (pick: (run: BackupRun) => number): Record<ToolName, number> => ({
        pgstash: quantile(entry.runs.pgstash.map(pick), 0.5),
        pgbackrest: quantile(entry.runs.pgbackrest.map(pick), 0.5),
      });
      const wall = figure((run) => run[operation].wallMs);
      const cpu = figure((run) => run[operation].cpuMs);
      const rss = figure((run) => run[operation].maxRssKiB * 1024);
      const row = [
        entry.compress,
        String(entry.processMax),
        formatSeconds(wall.pgstash),
        formatSeconds(wall.pgbackrest),
        formatRatio(wall.pgstash, wall.pgbackrest),
        formatSeconds(cpu.pgstash),
        formatSeconds(cpu.pgbackrest),
        formatRatio(cpu.pgstash, cpu.pgbackrest),
        formatMiB(rss.pgstash),
        formatMiB(rss.pgbackrest),
        formatRatio(rss.pgstash, rss.pgbackrest),
      ];
      if (operation === 'backup') {
        const repo = figure((run) => run.repoBytes);
        row.push(
          formatMiB(repo.pgstash),
          formatMiB(repo.pgbackrest),
          formatRatio(repo.pgstash, repo.pgbackrest),
        );
      }
      return row;
    });
    const header = [
      'compress',
      'process-max',
      'wall pgstash',
      'wall pgBackRest',
      'ratio',
      'CPU pgstash',
      'CPU pgBackRest',
      'ratio',
      'RSS pgstash',
      'RSS pgBackRest',
      'ratio',
    ];
    if (operation === 'backup') header.push('repo pgstash', 'repo pgBackRest', 'ratio');
    return markdownTable(header, rows, ['left']);
  };
  return [
    `## Full backup and restore: pgbench scale ${String(results.scale)} ` +
      `(${formatMiB(results.databaseBytes)} of databases, ${formatMiB(results.dataDirBytes)} data directory without pg_wal)`,
    '',
    `Backup with --start-fast and archive-check${of}; repo is du -sb of the backup's directory:`,
    '',
    table('backup'),
    '',
    `Restore into an empty directory${of}:`,
    '',
    table('restore'),
    '',
    'CPU is user+sys of the tool and every worker process it waited for; RSS is the largest single process ' +
      '(pgBackRest forks one worker process per process-max besides its main process; pgstash is one process whose worker threads all count). ' +
      "Neither counts the server's work nor the archive_command processes PostgreSQL starts during a backup.",
    ...(runs > 1
      ? [
          '',
          `Spread of wall times over the ${String(runs)} runs (min - max), to judge the noise:`,
          '',
          spreadTable(results),
        ]
      : []),
  ].join('\n');
}

/** Fastest and slowest wall time of each case, operation and tool. */
function spreadTable(results: BackupResults): string {
  const range = (runs: readonly BackupRun[], operation: 'backup' | 'restore'): string => {
    const wall = summarize(runs.map((run) => run[operation].wallMs));
    return `${formatSeconds(wall.min)} - ${formatSeconds(wall.max)}`;
  };
  const rows = results.cases.flatMap((entry) =>
    (['backup', 'restore'] as const).map((operation) => [
      entry.compress,
      String(entry.processMax),
      operation,
      range(entry.runs.pgstash, operation),
      range(entry.runs.pgbackrest, operation),
    ]),
  );
  return markdownTable(['compress', 'process-max', 'operation', 'pgstash', 'pgBackRest'], rows, [
    'left',
    'right',
    'left',
  ]);
}

function summaries(
  perTool: PerTool,
  pick: (measurement: Measurement) => number,
): Record<ToolName, ReturnType<typeof summarize>> {
  return Object.fromEntries(TOOLS.map((tool) => [tool, summarize(perTool[tool].map(pick))])) as Record<
    ToolName,
    ReturnType<typeof summarize>
  >;
}
