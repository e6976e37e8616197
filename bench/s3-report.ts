// The S3 case's tables: wall, CPU, RSS, requests and bytes stored per tool, and requests by kind (issue 15's goals).
import { below, ratioAtMost, GOALS } from './goals.js';
import type { S3ArchiveResult } from './s3-archive.js';
import { totalRequests, type RequestCounts } from './s3-requests.js';
import type { S3Results, S3Run } from './s3.js';
import { quantile } from './stats.js';
import { formatMiB, formatMs, formatRatio, formatSeconds, markdownTable } from './table.js';
import type { ToolName } from './tools.js';

const TOOLS: readonly ToolName[] = ['pgstash', 'pgbackrest'];

export function renderS3(results: S3Results, runs: number): string {
  const rows: string[][] = [];
  const kindRows: string[][] = [];
  for (const entry of results.cases) {
    for (const operation of ['backup', 'restore'] as const) {
      const median = (tool: ToolName, pick: (run: S3Run) => number): number =>
        quantile(entry.runs[tool].map(pick), 0.5);
      const wall = (tool: ToolName): number => median(tool, (run) => run[operation].wallMs);
      const rss = (tool: ToolName): number => median(tool, (run) => run[operation].maxRssKiB * 1024);
      const requests = (tool: ToolName): number =>
        median(tool, (run) => totalRequests(run.requests[operation]));
      rows.push([
        entry.compress,
        operation,
        formatSeconds(wall('pgstash')),
        formatSeconds(wall('pgbackrest')),
        ratioAtMost(wall('pgstash'), wall('pgbackrest'), GOALS.s3WallRatio).text,
        formatMiB(rss('pgstash')),
        formatMiB(rss('pgbackrest')),
        below(rss('pgstash'), GOALS.s3PeakRssBytes, formatMiB).text,
        String(requests('pgstash')),
        String(requests('pgbackrest')),
        below(requests('pgstash'), requests('pgbackrest'), String).text,
        operation === 'backup' ? formatMiB(median('pgstash', (run) => run.storedBytes)) : '',
        operation === 'backup' ? formatMiB(median('pgbackrest', (run) => run.storedBytes)) : '',
      ]);
      for (const tool of TOOLS) {
        const first = entry.runs[tool][0];
        if (first !== undefined)
          kindRows.push([entry.compress, operation, tool, describeKinds(first.requests[operation])]);
      }
    }
  }
  const of = runs > 1 ? ` (median of ${String(runs)} runs)` : '';
  return [
    `## S3: full backup and restore, pgbench scale ${String(results.scale)}, process-max ` +
      `${String(results.cases[0]?.processMax ?? '')}, on ${results.server}${of}`,
    '',
    "Each tool has its own bucket on the same server. Requests are the server's access log lines for that bucket " +
      '(a backup\'s include the archive-push processes PostgreSQL starts meanwhile). "stored" is the size of the ' +
      "objects under the repository's backup/. Goals (issue 15): wall at most 0.8x pgBackRest's, fewer requests, " +
      'peak RSS under 300 MB.',
    '',
    markdownTable(
      [
        'compress',
        'operation',
        'wall pgstash',
        'wall pgBackRest',
        'goal: wall',
        'RSS pgstash',
        'RSS pgBackRest',
        'goal: RSS',
        'requests pgstash',
        'requests pgBackRest',
        'goal: requests',
        'stored pgstash',
        'stored pgBackRest',
      ],
      rows,
      ['left', 'left'],
    ),
    '',
    'Requests by kind (first run):',
    '',
    markdownTable(['compress', 'operation', 'tool', 'requests'], kindRows, ['left', 'left', 'left', 'left']),
    '',
    `Stored bytes ratio pgstash / pgBackRest: ${results.cases
      .map((entry) => {
        const bytes = (tool: ToolName): number =>
          quantile(
            entry.runs[tool].map((run) => run.storedBytes),
            0.5,
          );
        return `${entry.compress} ${formatRatio(bytes('pgstash'), bytes('pgbackrest'))}`;
      })
      .join(', ')}.`,
    ...(results.archive.length === 0 ? [] : ['', renderS3Archive(results.archive)]),
  ].join('\n');
}

/** archive-push and archive-get per segment: median wall, and requests per segment by tool. */
function renderS3Archive(archive: readonly S3ArchiveResult[]): string {
  const rows: string[][] = [];
  const kindRows: string[][] = [];
  for (const entry of archive) {
    for (const command of ['push', 'get'] as const) {
      const wall = (tool: ToolName): number =>
        quantile(
          entry.tools[tool][command].map((run) => run.wallMs),
          0.5,
        );
      const perSegment = (tool: ToolName): string =>
        (totalRequests(entry.tools[tool].requests[command]) / entry.segments).toFixed(1);
      rows.push([
        entry.compress,
        `archive-${command}`,
        formatMs(wall('pgstash')),
        formatMs(wall('pgbackrest')),
        formatRatio(wall('pgstash'), wall('pgbackrest')),
        perSegment('pgstash'),
        perSegment('pgbackrest'),
      ]);
      for (const tool of TOOLS)
        kindRows.push([
          entry.compress,
          `archive-${command}`,
          tool,
          describeKinds(entry.tools[tool].requests[command]),
        ]);
    }
  }
  return [
    `### S3: archive-push and archive-get, one process per 16 MiB segment (${String(archive[0]?.segments ?? 0)} segments)`,
    '',
    'Median wall time per segment; requests per segment from the access log (all segments, divided).',
    '',
    markdownTable(
      [
        'compress',
        'command',
        'wall pgstash',
        'wall pgBackRest',
        'pgstash / pgBackRest',
        'requests pgstash',
        'requests pgBackRest',
      ],
      rows,
      ['left', 'left'],
    ),
    '',
    'Requests by kind (all segments):',
    '',
    markdownTable(['compress', 'command', 'tool', 'requests'], kindRows, ['left', 'left', 'left', 'left']),
  ].join('\n');
}

function describeKinds(counts: RequestCounts): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, count]) => `${kind} ${String(count)}`)
    .join(', ');
}
