// The verify case's table: verify (full, after an incremental, --since-last) and drill per tool, with ratios.
import type { Measurement } from './measure.js';
import { formatMiB, formatRatio, formatSeconds, markdownTable } from './table.js';
import type { VerifyResults, VerifyToolRun } from './verify.js';

export function renderVerify(results: VerifyResults): string {
  const rows: string[][] = [];
  const details: string[] = [];
  for (const entry of results.cases) {
    const { pgstash, pgbackrest } = entry.runs;
    const row = (
      operation: string,
      mine: Measurement | undefined,
      theirs: Measurement | undefined,
    ): string[] => [
      entry.compress,
      operation,
      mine === undefined ? '' : formatSeconds(mine.wallMs),
      theirs === undefined ? '' : formatSeconds(theirs.wallMs),
      mine === undefined || theirs === undefined ? '' : formatRatio(mine.wallMs, theirs.wallMs),
      mine === undefined ? '' : formatSeconds(mine.cpuMs),
      theirs === undefined ? '' : formatSeconds(theirs.cpuMs),
      mine === undefined ? '' : formatMiB(mine.maxRssKiB * 1024),
      theirs === undefined ? '' : formatMiB(theirs.maxRssKiB * 1024),
      mine === undefined || theirs === undefined ? '' : formatRatio(mine.maxRssKiB, theirs.maxRssKiB),
    ];
    rows.push(
      row('verify after the full', pgstash?.verifyFull, pgbackrest?.verifyFull),
      row('verify after the incr', pgstash?.verifyAfterIncr, pgbackrest?.verifyAfterIncr),
      row(
        'verify --since-last after the incr (pgBackRest: full verify)',
        pgstash?.sinceLast,
        pgbackrest?.verifyAfterIncr,
      ),
      row('drill of the incr (pgBackRest: none)', pgstash?.drill, undefined),
    );
    if (pgstash !== undefined) details.push(describePgstash(entry.compress, pgstash));
  }
  return [
    `## Verify and drill: pgbench scale ${String(results.scale)}, process-max ${String(results.processMax)}`,
    '',
    `A full backup, verify; ${String(results.transactions)} pgbench transactions, an incremental backup, verify ` +
      "(pgstash: --since-last first, then everything); pgstash's drill of the incremental (restore, recovery to the " +
      'end of the archive, pg_amcheck, row counts). Ratios are pgstash / pgBackRest 2.45.',
    '',
    markdownTable(
      [
        'compress',
        'operation',
        'wall pgstash',
        'wall pgBackRest',
        'ratio',
        'CPU pgstash',
        'CPU pgBackRest',
        'RSS pgstash',
        'RSS pgBackRest',
        'ratio',
      ],
      rows,
      ['left', 'left'],
    ),
    '',
    ...details,
  ].join('\n');
}

function describePgstash(compress: string, run: VerifyToolRun): string {
  const parts: string[] = [];
  if (run.fullFiles !== undefined)
    parts.push(
      `verify after the incr read ${String(run.fullFiles.read)} files (${formatMiB(run.fullFiles.bytes)} original` +
        `${run.fullFiles['as-stored'] === undefined ? '' : `, ${String(run.fullFiles['as-stored'])} of them as stored`})`,
    );
  if (run.sinceLastFiles !== undefined)
    parts.push(
      `--since-last read ${String(run.sinceLastFiles.read)} of ${String(run.sinceLastFiles.checked)} files ` +
        `(${formatMiB(run.sinceLastFiles.bytes)}), ${String(run.sinceLastFiles.unchanged)} unchanged`,
    );
  if (run.drillPhases !== undefined) {
    const seconds = (value: number | null): string => (value === null ? '-' : `${value.toFixed(1)} s`);
    parts.push(
      `drill: restore ${seconds(run.drillPhases.restore)}, recovery ${seconds(run.drillPhases.recovery)}, ` +
        `checks ${seconds(run.drillPhases.checks)}`,
    );
  }
  return `- ${compress}, pgstash: ${parts.join('; ')}.`;
}
