// A known history of committed rows for point-in-time restore tests: each row tagged with its xid, commit time and commit LSN.
//
// Usage (the cluster needs track_commit_timestamp = on and its WAL kept in pg_wal until finish()):
//   const history = await WriteHistory.create(cluster, 'history');
//   await history.write(1);  await history.restorePoint('mid');  await history.write(2);
//   const rows = await history.finish();          // switches WAL; commit LSNs read back with pg_waldump
//   rows[0].commitLsn  // start of the row's commit record: what recovery_target_lsn compares with
import { setTimeout as sleep } from 'node:timers/promises';
import type { PgCluster } from './cluster.js';

export interface HistoryRow {
  readonly id: number;
  /** The transaction that inserted the row (a decimal 32-bit xid, epoch 0 on a new cluster). */
  readonly xid: string;
  /** Exact commit timestamp (microseconds, UTC) as recovery_target_time takes it: '2026-11-21 10:15:00.123456+00'. */
  readonly committedAt: string;
  /** Start LSN of the row's commit record, e.g. '0/3000148'. */
  readonly commitLsn: string;
}

/**
 * Server settings a WriteHistory needs: commit timestamps on, and the WAL kept in pg_wal until finish() reads it
 * with pg_waldump (no checkpoint recycles a segment in the middle of the history, even on a loaded machine).
 */
export const HISTORY_SETTINGS: Readonly<Record<string, string>> = {
  track_commit_timestamp: 'on',
  wal_keep_size: '256MB',
  max_wal_size: '1GB',
  checkpoint_timeout: '1h',
};

/** Timestamp text with microseconds in UTC, whatever the session's TimeZone. */
const UTC_TEXT = (expr: string): string =>
  `to_char((${expr}) at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'`;

/** One line of `pg_waldump --rmgr=Transaction`: '... tx: 740, lsn: 0/0300A0E8, prev ..., desc: COMMIT ...'. */
const COMMIT_LINE = /\btx:\s*(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+), .*desc: COMMIT\b/;

export class WriteHistory {
  readonly table: string;
  readonly #cluster: PgCluster;
  readonly #rows: { id: number; xid: string; committedAt: string }[] = [];
  readonly #pauseMs: number;
  #startLsn = '';

  private constructor(cluster: PgCluster, table: string, pauseMs: number) {
    this.#cluster = cluster;
    this.table = table;
    this.#pauseMs = pauseMs;
  }

  /**
   * Creates the table `table (id int primary key, xid text)`. `pauseMs` (default 250) is slept after each row
   * and restore point, so that consecutive commits are far enough apart for time targets between them.
   */
  static async create(
    cluster: PgCluster,
    table: string,
    options: { pauseMs?: number } = {},
  ): Promise<WriteHistory> {
    if ((await cluster.psql('show track_commit_timestamp')) !== 'on') {
      throw new Error('WriteHistory needs track_commit_timestamp = on (commit times are read back from it)');
    }
    await cluster.psql(`create table ${table} (id int primary key, xid text not null)`);
    const history = new WriteHistory(cluster, table, options.pauseMs ?? 250);
    history.#startLsn = await cluster.psql('select pg_current_wal_insert_lsn()');
    return history;
  }

  /** Inserts row `id` in its own transaction and records its xid and exact commit time. */
  async write(id: number): Promise<void> {
    const xid = await this.#cluster.psql(
      `begin; insert into ${this.table} values (${id}, txid_current()::text); select txid_current(); commit;`,
    );
    if (!/^\d+$/.test(xid)) throw new Error(`unexpected txid_current() output '${xid}'`);
    const committedAt = await this.#cluster.psql(
      `select ${UTC_TEXT(`pg_xact_commit_timestamp('${xid}'::xid)`)}`,
    );
    this.#rows.push({ id, xid, committedAt });
    await sleep(this.#pauseMs);
  }

  /** pg_create_restore_point(name), between the rows written before and after. */
  async restorePoint(name: string): Promise<void> {
    await this.#cluster.psql(`select pg_create_restore_point('${name.replaceAll("'", "''")}')`);
    await sleep(this.#pauseMs);
  }

  /**
   * Switches WAL (so the last rows can reach the archive) and reads the commit LSN of every row from the server's
   * pg_wal with pg_waldump. Returns the rows in commit order and the segment switched out, to wait for.
   */
  async finish(): Promise<{ rows: HistoryRow[]; lastSegment: string }> {
    const switched = await this.#cluster.psql(
      'select lsn, pg_walfile_name(lsn) from (select pg_switch_wal() as lsn) s',
    );
    const [endLsn, lastSegment] = switched.split('|') as [string, string];
    const dump = await this.#cluster.runTool('pg_waldump', [
      `--path=${this.#cluster.dataDir}/pg_wal`,
      `--start=${this.#startLsn}`,
      `--end=${endLsn}`,
      '--rmgr=Transaction',
    ]);
    const commits = new Map<string, string>();
    for (const line of dump.stdout.split('\n')) {
      const match = COMMIT_LINE.exec(line);
      if (match !== null) commits.set(match[1] as string, normaliseLsn(match[2] as string));
    }
    const rows = this.#rows.map((row) => {
      const commitLsn = commits.get(row.xid);
      if (commitLsn === undefined) {
        throw new Error(
          `pg_waldump shows no commit record for xid ${row.xid} (row ${row.id})\n${dump.stdout}`,
        );
      }
      return { ...row, commitLsn };
    });
    return { rows, lastSegment };
  }
}

/** '0/0300A0E8' -> '0/300A0E8', the form PostgreSQL prints. */
function normaliseLsn(lsn: string): string {
  const [hi, lo] = lsn.split('/') as [string, string];
  return `${BigInt(`0x${hi}`).toString(16).toUpperCase()}/${BigInt(`0x${lo}`).toString(16).toUpperCase()}`;
}

/** Timestamp text (as WriteHistory gives it) `ms` milliseconds after `committedAt`, computed by the server. */
export async function timeAfter(cluster: PgCluster, committedAt: string, ms: number): Promise<string> {
  return cluster.psql(`select ${UTC_TEXT(`'${committedAt}'::timestamptz + interval '${ms} milliseconds'`)}`);
}
