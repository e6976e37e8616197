// The archive-async case's tables: archiving throughput and backlog under load, and recovery through prefetch.
import type { AsyncArchiveResults, AsyncArchiveRun } from './archive-async.js';
import { formatRatio, formatSeconds, markdownTable } from './table.js';
import type { ToolName } from './tools.js';

const TOOLS: readonly ToolName[] = ['pgstash', 'pgbackrest'];

/** Segments per second, one decimal. */
function rate(segments: number, ms: number): number {
  return ms > 0 ? (segments * 1000) / ms : 0;
}

export function renderArchiveAsync(results: AsyncArchiveResults): string {
  const archiving: string[][] = [];
  const recovery: string[][] = [];
  for (const { compress, runs } of results.byCompress) {
    const overall = (run: AsyncArchiveRun): number => rate(run.segments, run.loadMs + run.drainMs);
    const drain = (run: AsyncArchiveRun): number => rate(run.drainSegments, run.drainMs);
    for (const tool of TOOLS) {
      const run = runs[tool];
      archiving.push([
        compress,
        tool,
        String(run.segments),
        formatSeconds(run.loadMs),
        formatSeconds(run.drainMs),
        overall(run).toFixed(1),
        run.drainSegments === 0 ? '-' : drain(run).toFixed(1),
        String(run.maxReady),
        String(run.failed),
      ]);
      recovery.push([
        compress,
        tool,
        String(run.segments),
        formatSeconds(run.recoveryMs),
        rate(run.segments, run.recoveryMs).toFixed(1),
        String(run.rows),
      ]);
    }
    archiving.push([
      compress,
      'ratio',
      '',
      '',
      formatRatio(runs.pgstash.drainMs, runs.pgbackrest.drainMs),
      formatRatio(overall(runs.pgbackrest), overall(runs.pgstash)),
      '',
      formatRatio(runs.pgstash.maxReady, runs.pgbackrest.maxReady),
      '',
    ]);
    // Per segment: the fixed-time load gives each tool its own number of segments to replay.
    recovery.push([
      compress,
      'ratio',
      '',
      '',
      formatRatio(
        rate(runs.pgbackrest.segments, runs.pgbackrest.recoveryMs),
        rate(runs.pgstash.segments, runs.pgstash.recoveryMs),
      ),
      '',
    ]);
  }
  return [
    `## Asynchronous archiving (archive-async=y, process-max ${String(results.processMax)}, ` +
      `${String(results.loadSeconds)} s bulk-insert load)`,
    '',
    'Segments: archived from the start of the load until pg_wal/archive_status had no .ready file left. ' +
      'Rate: segments / (load + drain); drain rate: segments archived after the load / drain time. ' +
      'Max waiting: the most .ready files sampled (every 200 ms). Ratio row: pgstash / pgBackRest for the drain ' +
      'time and the backlog, pgBackRest / pgstash for the rate (below 1 pgstash is better everywhere).',
    '',
    markdownTable(
      ['compress', 'tool', 'segments', 'load', 'drain', 'seg/s', 'drain seg/s', 'max waiting', 'failed'],
      archiving,
      ['left', 'left'],
    ),
    '',
    'Recovery: the full backup taken before the load is restored and started with the restore_command the ' +
      "tool's restore wrote (its archive-get with archive-async=y, archive-get-queue-max 128MiB); time from start " +
      'until it promoted at the end of the archive; rows: the load table, equal in the original and the restored ' +
      'cluster. Ratio row: time per segment, pgstash / pgBackRest (each replays the segments its own load made).',
    '',
    markdownTable(['compress', 'tool', 'segments', 'recovery', 'seg/s', 'rows'], recovery, ['left', 'left']),
  ].join('\n');
}
