// A drill's report: what was restored, how long each phase took, the WAL replayed, the checks; text and JSON.
import { ERROR_CODES, type ErrorKind } from '../../common/errors.js';
import { stringifyWithBigInt } from '../../common/json.js';
import { formatBytes } from '../../common/size.js';
import { formatLsn } from '../../postgres/lsn.js';
import type { CheckOutcome, QueryOutcome, TableCount } from './checks.js';

export interface DrillReport {
  stanza: string;
  repo: number;
  /** The backup set restored (undefined when the drill failed before one was chosen). */
  label?: string;
  backupLsnStart?: string;
  recovery: { type: string; target?: string };
  /** The restored directory (data directory) and the scratch directory around it. */
  pgPath: string;
  scratch: string;
  /** The directories were kept (drill-keep-failed after a failure). */
  kept: boolean;
  started: number;
  /** Milliseconds of each phase; undefined when the phase did not finish. */
  restoreMs?: number;
  recoveryMs?: number;
  checksMs?: number;
  totalMs?: number;
  /** End of recovery and the WAL replayed since the backup's start. */
  recoveryEnd?: { timeline: number; lsn: bigint; reason: string };
  walReplayed?: number;
  amcheck?: CheckOutcome;
  query?: QueryOutcome;
  tables?: TableCount[];
  /** 'ok' or the failure's error kind, with its message. */
  result: { kind: 'ok' | ErrorKind; message?: string };
}

export function exitCodeOf(report: DrillReport): number {
  return report.result.kind === 'ok' ? 0 : ERROR_CODES[report.result.kind].code;
}

/** restore + recovery up to promotion: how long bringing the cluster back takes. */
export function rtoMs(report: DrillReport): number | undefined {
  return report.restoreMs === undefined || report.recoveryMs === undefined
    ? undefined
    : report.restoreMs + report.recoveryMs;
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(1)}s`;
}

function secondsJson(ms: number | undefined): number | null {
  return ms === undefined ? null : Math.round(ms) / 1000;
}

function checkLine(name: string, check: CheckOutcome | undefined): string {
  if (check === undefined) return `  ${name}: not run`;
  return `  ${name}: ${check.status}${check.message === undefined ? '' : ` (${check.message})`}`;
}

export function renderDrillText(report: DrillReport): string {
  const ok = report.result.kind === 'ok';
  const code = exitCodeOf(report);
  const lines = [
    `drill of stanza ${report.stanza} (repo${report.repo}): ${ok ? 'ok' : `FAILED [${String(code).padStart(3, '0')}]: ${report.result.message ?? report.result.kind}`}`,
    `  backup set: ${report.label ?? '-'}, recovery type '${report.recovery.type}'${report.recovery.target === undefined ? '' : ` target '${report.recovery.target}'`}`,
    `  restore: ${seconds(report.restoreMs)}, recovery: ${seconds(report.recoveryMs)}, RTO: ${seconds(rtoMs(report))}, checks: ${seconds(report.checksMs)}, total: ${seconds(report.totalMs)}`,
  ];
  if (report.recoveryEnd !== undefined) {
    lines.push(
      `  WAL replayed: ${formatBytes(report.walReplayed ?? 0)} (${report.backupLsnStart ?? '?'} to ${formatLsn(report.recoveryEnd.lsn)}), promoted to timeline ${report.recoveryEnd.timeline}`,
    );
  }
  lines.push(checkLine('pg_amcheck', report.amcheck));
  if (report.query !== undefined) lines.push(checkLine('drill-query', report.query));
  if (report.tables !== undefined) {
    lines.push(`  largest tables (exact row counts):`);
    if (report.tables.length === 0) lines.push('    none');
    for (const table of report.tables)
      lines.push(
        `    ${table.database}.${table.schema}.${table.table}: ${table.rows === null ? `count failed (${table.error ?? '?'})` : `${table.rows} rows`}, ${formatBytes(table.bytes)}`,
      );
  }
  if (report.kept) lines.push(`  kept for inspection: ${report.scratch} (data directory ${report.pgPath})`);
  return `${lines.join('\n')}\n`;
}

/** The JSON report (docs/drill-json.md). */
export function drillJson(report: DrillReport): unknown {
  return {
    stanza: report.stanza,
    repo: report.repo,
    status: {
      code: exitCodeOf(report),
      result: report.result.kind,
      message: report.result.message ?? null,
    },
    backup: { label: report.label ?? null, lsn: { start: report.backupLsnStart ?? null } },
    recovery: {
      type: report.recovery.type,
      target: report.recovery.target ?? null,
      end:
        report.recoveryEnd === undefined
          ? null
          : {
              lsn: formatLsn(report.recoveryEnd.lsn),
              timeline: report.recoveryEnd.timeline,
              reason: report.recoveryEnd.reason,
            },
      'wal-replayed': report.walReplayed ?? null,
    },
    time: {
      start: Math.floor(report.started / 1000),
      restore: secondsJson(report.restoreMs),
      recovery: secondsJson(report.recoveryMs),
      rto: secondsJson(rtoMs(report)),
      checks: secondsJson(report.checksMs),
      total: secondsJson(report.totalMs),
    },
    checks: {
      amcheck: report.amcheck ?? null,
      query: report.query ?? null,
      tables: report.tables ?? null,
    },
    path: { data: report.pgPath, scratch: report.scratch, kept: report.kept },
  };
}

export function renderDrillJson(report: DrillReport): string {
  return `${stringifyWithBigInt(drillJson(report), 2)}\n`;
}
