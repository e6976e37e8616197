// The drill report: exit code by failure kind, RTO as restore + recovery, the text and JSON a DBA and cron read.
import { describe, expect, it } from 'vitest';
import {
  drillJson,
  exitCodeOf,
  renderDrillText,
  rtoMs,
  type DrillReport,
} from '../../../../src/command/drill/report.js';

function report(overrides: Partial<DrillReport> = {}): DrillReport {
  return {
    stanza: 'main',
    repo: 1,
    label: '20261206-170000F',
    backupLsnStart: '0/2000028',
    recovery: { type: 'default' },
    pgPath: '/tmp/pgstash-drill-main-abc/data',
    scratch: '/tmp/pgstash-drill-main-abc',
    kept: false,
    started: 1_796_000_000_000,
    restoreMs: 1200,
    recoveryMs: 2300,
    checksMs: 900,
    totalMs: 4600,
    recoveryEnd: { timeline: 2, lsn: 0x4000110n, reason: 'no recovery target specified' },
    walReplayed: 0x4000110 - 0x2000028,
    amcheck: { status: 'ok' },
    tables: [{ database: 'app', schema: 'public', table: 'orders', bytes: 8192, rows: 12 }],
    result: { kind: 'ok' },
    ...overrides,
  };
}

describe('drill report', () => {
  it('exits 0 when ok, with the code of the failure kind otherwise', () => {
    expect(exitCodeOf(report())).toBe(0);
    expect(exitCodeOf(report({ result: { kind: 'drillStart', message: 'x' } }))).toBe(111);
    expect(exitCodeOf(report({ result: { kind: 'drillRecovery', message: 'x' } }))).toBe(112);
    expect(exitCodeOf(report({ result: { kind: 'drillCheck', message: 'x' } }))).toBe(113);
    expect(exitCodeOf(report({ result: { kind: 'checksum', message: 'x' } }))).toBe(26);
  });

  it('counts the RTO as restore + recovery, and has none when recovery did not finish', () => {
    expect(rtoMs(report())).toBe(3500);
    const { recoveryMs: _unused, ...unfinished } = report();
    expect(rtoMs(unfinished)).toBeUndefined();
  });

  it('says in text what was restored, how long each phase took, the WAL replayed and the checks', () => {
    const text = renderDrillText(report());
    expect(text).toContain('drill of stanza main (repo1): ok');
    expect(text).toContain('restore: 1.2s, recovery: 2.3s, RTO: 3.5s, checks: 0.9s, total: 4.6s');
    expect(text).toContain('(0/2000028 to 0/4000110), promoted to timeline 2');
    expect(text).toContain('pg_amcheck: ok');
    expect(text).toContain('app.public.orders: 12 rows');
  });

  it('names a failure with its code and where a kept directory is', () => {
    const text = renderDrillText(
      report({ kept: true, result: { kind: 'drillCheck', message: "drill-query returned 'a'" } }),
    );
    expect(text).toContain("FAILED [113]: drill-query returned 'a'");
    expect(text).toContain(
      'kept for inspection: /tmp/pgstash-drill-main-abc (data directory /tmp/pgstash-drill-main-abc/data)',
    );
  });

  it('gives JSON seconds, the exit code and nulls for what did not happen', () => {
    const { recoveryMs: _recovery, recoveryEnd: _end, walReplayed: _wal, ...base } = report();
    const json = drillJson({ ...base, result: { kind: 'drillRecovery', message: 'm' } }) as Record<
      string,
      Record<string, unknown>
    >;
    expect(json['status']).toEqual({ code: 112, result: 'drillRecovery', message: 'm' });
    expect(json['time']).toMatchObject({ restore: 1.2, recovery: null, rto: null, start: 1_796_000_000 });
    expect(json['recovery']).toMatchObject({ end: null, 'wal-replayed': null });
  });
});
