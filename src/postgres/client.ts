// A session with a PostgreSQL server over the `pg` driver, loaded only on connect (archive-push never pays for it).
import type { Client, QueryResultRow } from 'pg';

import { PgStashError, fail, messageOf } from '../common/errors.js';
import { parseLsn } from './lsn.js';
import { assertSupportedVersion, versionFromServerVersionNum, type PgVersionInfo } from './version.js';
import { walSegmentName } from './wal-name.js';

export interface PgConnectOptions {
  /** Directory holding the server's unix socket (pg1-socket-path); wins over host. */
  socketPath?: string;
  /** Host name or address for TCP; neither host nor socketPath means the socket in /var/run/postgresql. */
  host?: string;
  port: number;
  /** Defaults to the driver's default (PGUSER, then the OS user). */
  user?: string;
  database: string;
  applicationName?: string;
  /** Give up connecting after this long (default 30 s). */
  connectTimeoutMs?: number;
}

export interface Tablespace {
  oid: number;
  name: string;
  location: string;
}

/** PostgreSQL's default socket directory on Debian and Red Hat builds, used when neither host nor socket is set. */
export const DEFAULT_SOCKET_PATH = '/var/run/postgresql';

/** pg_settings sources of a value the server itself has, not one set for a role, a database or a session. */
const SERVER_SOURCES = new Set([
  'default',
  'environment variable',
  'configuration file',
  'command line',
  'global',
  'override',
]);

let pgModule: Promise<typeof import('pg')> | undefined;

/** The `pg` module, imported on first use. */
function loadPg(): Promise<typeof import('pg')> {
  pgModule ??= import('pg');
  return pgModule;
}

/** libpq-style description of where we connect, for messages: dbname=postgres port=5432 host=/var/run/postgresql. */
export function describeConnection(options: PgConnectOptions): string {
  const host = options.socketPath ?? options.host ?? DEFAULT_SOCKET_PATH;
  const user = options.user === undefined ? '' : ` user=${options.user}`;
  return `dbname=${options.database} port=${options.port} host=${host}${user}`;
}

/**
 * Connects to the server. A failure (server down, wrong socket or port, authentication) fails with dbConnect (56):
 * `unable to connect to 'dbname=postgres port=5432 host=/var/run/postgresql': <reason>`.
 */
export async function connectPg(options: PgConnectOptions): Promise<PgSession> {
  const description = describeConnection(options);
  const { Client: PgClient } = await loadPg();
  const client = new PgClient({
    host: options.socketPath ?? options.host ?? DEFAULT_SOCKET_PATH,
    port: options.port,
    database: options.database,
    application_name: options.applicationName ?? 'pgstash',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 30_000,
    ...(options.user === undefined ? {} : { user: options.user }),
  });
  const session = new PgSession(client, description);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    fail('dbConnect', `unable to connect to '${description}': ${messageOf(error)}`, {
      hint: 'is PostgreSQL running? check pg1-socket-path (or pg1-host), pg1-port and pg1-user',
      cause: error,
    });
  }
  return session;
}

/**
 * One connection to a server. Methods that depend on the version use the version table; 64-bit values and LSNs
 * (which the driver returns as strings) come back as bigint. Query errors fail with dbQuery (57).
 */
export class PgSession {
  readonly #client: Client;
  readonly #description: string;
  #versionNum: number | undefined;
  #lost: Error | undefined;
  #closed = false;

  constructor(client: Client, description: string) {
    this.#client = client;
    this.#description = description;
    // Without a listener, an 'error' event (the server went away while idle) would crash the process.
    client.on('error', (error: Error) => {
      this.#lost = error;
    });
  }

  /** Where this session is connected, as in connect messages. */
  get description(): string {
    return this.#description;
  }

  /** Runs one statement with $1... parameters and returns its rows. */
  async query<T extends QueryResultRow = QueryResultRow>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<T[]> {
    if (this.#closed) fail('dbQuery', `unable to execute query '${sql}': the connection is closed`);
    if (this.#lost !== undefined) {
      fail('dbQuery', `unable to execute query '${sql}': connection to '${this.#description}' lost`, {
        cause: this.#lost,
      });
    }
    try {
      const result = await this.#client.query<T>(sql, params === undefined ? undefined : [...params]);
      return result.rows;
    } catch (error) {
      const hint = (error as { hint?: unknown }).hint;
      throw new PgStashError('dbQuery', `unable to execute query '${sql}': ${messageOf(error)}`, {
        ...(typeof hint === 'string' ? { hint } : {}),
        cause: error,
      });
    }
  }

  /**
   * The first column of the first row of `sql`, as PostgreSQL's text output has it (no type parsing: a numeric is
   * '1.50', a boolean 't'); null for SQL NULL, undefined when there is no row or no column.
   */
  async firstText(sql: string): Promise<string | null | undefined> {
    if (this.#closed || this.#lost !== undefined) return this.query(sql).then(() => undefined);
    try {
      const result = await this.#client.query<unknown[]>({
        text: sql,
        rowMode: 'array',
        types: { getTypeParser: () => (value: string) => value },
      });
      const value = result.rows[0]?.[0];
      return value === undefined ? undefined : (value as string | null);
    } catch (error) {
      throw new PgStashError('dbQuery', `unable to execute query '${sql}': ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  /** Closes the connection; closing twice is fine. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.end().catch(() => undefined);
  }

  /** server_version_num, e.g. 150004 (read once per session). */
  async serverVersionNum(): Promise<number> {
    if (this.#versionNum === undefined) {
      const row = await this.#one<{ num: string }>("select current_setting('server_version_num') as num");
      this.#versionNum = Number(row.num);
    }
    return this.#versionNum;
  }

  /** The server's entry in the version table; an unsupported version fails with versionNotSupported (46). */
  async versionInfo(): Promise<PgVersionInfo> {
    return assertSupportedVersion(versionFromServerVersionNum(await this.serverVersionNum()));
  }

  /** The cluster's system identifier, from pg_control_system(). */
  async systemIdentifier(): Promise<bigint> {
    const row = await this.#one<{ id: string }>(
      'select system_identifier::text as id from pg_control_system()',
    );
    return BigInt(row.id);
  }

  /** A setting's current value as SHOW prints it, or undefined for an unknown setting. */
  async setting(name: string): Promise<string | undefined> {
    const row = await this.#one<{ value: string | null }>('select current_setting($1, true) as value', [
      name,
    ]);
    return row.value ?? undefined;
  }

  /**
   * A setting as the server itself has it (configuration files, command line, default), not as this session sees
   * it after ALTER ROLE or ALTER DATABASE: what a server restored from a backup starts with. undefined when the
   * session's value comes from elsewhere and pg_file_settings cannot be read.
   */
  async serverSetting(name: string): Promise<string | undefined> {
    const row = await this.#one<{ setting: string; source: string }>(
      'select setting, source from pg_settings where lower(name) = lower($1)',
      [name],
    );
    if (SERVER_SOURCES.has(row.source)) return row.setting;
    try {
      const rows = await this.query<{ setting: string }>(
        'select setting from pg_file_settings where lower(name) = lower($1) and applied order by seqno desc limit 1',
        [name],
      );
      return rows[0]?.setting;
    } catch {
      return undefined;
    }
  }

  /**
   * The next 64-bit transaction id (epoch and xid) as a decimal string: the xmax of a snapshot taken now, so every
   * transaction that has one from this value on began after this call.
   */
  async nextXid(): Promise<string> {
    const row = await this.#one<{ xid: string }>(
      'select txid_snapshot_xmax(txid_current_snapshot())::text as xid',
    );
    return row.xid;
  }

  /** Whether the server is a standby (or otherwise in recovery). */
  async isInRecovery(): Promise<boolean> {
    const row = await this.#one<{ value: boolean }>('select pg_is_in_recovery() as value');
    return row.value;
  }

  /** The current WAL write position on a primary; on a standby, the last replayed position. */
  async currentWalLsn(): Promise<bigint> {
    const row = await this.#one<{ lsn: string | null }>(
      'select (case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end)::text as lsn',
    );
    if (row.lsn === null) fail('dbQuery', `no WAL position reported by '${this.#description}'`);
    return parseLsn(row.lsn);
  }

  /**
   * Forces a switch to a new WAL segment so the current one gets archived. Returns the end of the switch and the
   * name of the segment it completed (pg_walfile_name). A standby cannot switch WAL: that fails clearly.
   */
  async switchWal(): Promise<{ lsn: bigint; walFile: string }> {
    await this.#requirePrimary('switch WAL');
    const row = await this.#one<{ lsn: string; wal_file: string }>(
      'select lsn::text as lsn, pg_walfile_name(lsn) as wal_file from pg_switch_wal() as lsn',
    );
    return { lsn: parseLsn(row.lsn), walFile: row.wal_file };
  }

  /**
   * Starts a non-exclusive backup (pg_backup_start on 15+, pg_start_backup(label, fast, false) on 12-14). The
   * backup belongs to this session: call backupStop on the same session. `fast` requests an immediate checkpoint.
   * Returns the start LSN, the segment holding it and the timeline.
   */
  async backupStart(
    label: string,
    fast: boolean,
  ): Promise<{ lsn: bigint; walFile: string; timeline: number }> {
    const info = await this.versionInfo();
    const start = await this.#one<{ lsn: string }>(
      `select lsn::text as lsn from ${info.backupStartSql} as lsn`,
      [label, fast],
    );
    const lsn = parseLsn(start.lsn);
    const segSize = await this.#one<{ bytes: number }>(
      'select bytes_per_wal_segment as bytes from pg_control_init()',
    );
    // pg_walfile_name carries the insert timeline but refuses to run on a standby (even in a CASE branch that is
    // not taken: the planner folds it), where the restartpoint just taken for the backup carries it.
    let timeline: number;
    if (await this.isInRecovery()) {
      timeline = (await this.#one<{ tli: number }>('select timeline_id as tli from pg_control_checkpoint()'))
        .tli;
    } else {
      const row = await this.#one<{ file: string }>('select pg_walfile_name($1::pg_lsn) as file', [
        start.lsn,
      ]);
      timeline = Number.parseInt(row.file.slice(0, 8), 16);
    }
    return { lsn, walFile: walSegmentName(timeline, lsn, segSize.bytes), timeline };
  }

  /**
   * Stops the backup started on this session without waiting for archiving (pgstash checks the archive itself).
   * Returns the stop LSN, the backup_label content and the tablespace_map content (null when there is none).
   */
  async backupStop(): Promise<{ lsn: bigint; labelFile: string; tablespaceMap: string | null }> {
    const info = await this.versionInfo();
    const row = await this.#one<{ lsn: string; labelfile: string; spcmapfile: string | null }>(
      `select lsn::text as lsn, labelfile, spcmapfile from ${info.backupStopSql}`,
    );
    const map = row.spcmapfile;
    return {
      lsn: parseLsn(row.lsn),
      labelFile: row.labelfile,
      tablespaceMap: map === null || map === '' ? null : map,
    };
  }

  /** User tablespaces (pg_default and pg_global, which live inside the data directory, are left out). */
  async tablespaces(): Promise<Tablespace[]> {
    const rows = await this.query<{ oid: string; name: string; location: string }>(
      `select oid::text as oid, spcname as name, pg_tablespace_location(oid) as location
         from pg_tablespace where pg_tablespace_location(oid) <> '' order by oid`,
    );
    return rows.map((row) => ({ oid: Number(row.oid), name: row.name, location: row.location }));
  }

  async #one<T extends QueryResultRow>(sql: string, params?: readonly unknown[]): Promise<T> {
    const rows = await this.query<T>(sql, params);
    const row = rows[0];
    if (row === undefined || rows.length !== 1) {
      fail('dbQuery', `query '${sql}' returned ${rows.length} rows, expected one`);
    }
    return row;
  }

  async #requirePrimary(what: string): Promise<void> {
    if (await this.isInRecovery()) {
      fail(
        'featureNotSupported',
        `unable to ${what} on '${this.#description}': the server is a standby (in recovery)`,
        {
          hint: 'run this against the primary',
        },
      );
    }
  }
}
