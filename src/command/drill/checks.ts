// The checks a drill runs on the promoted copy: pg_amcheck, the DBA's query, and the row counts of the largest tables.
import { spawn } from 'node:child_process';
import { isPgStashError, messageOf } from '../../common/errors.js';
import type { PgSession } from '../../postgres/client.js';
import type { DrillServer } from './server.js';

export type CheckStatus = 'ok' | 'failed' | 'skipped';

export interface CheckOutcome {
  readonly status: CheckStatus;
  /** What was found (a failure's reason, why skipped). */
  readonly message?: string;
}

export interface QueryOutcome extends CheckOutcome {
  readonly query: string;
  readonly expected: string;
  /** The text returned (null: SQL NULL; absent: no row or the query failed). */
  readonly actual?: string | null;
}

export interface TableCount {
  readonly database: string;
  readonly schema: string;
  readonly table: string;
  /** pg_total_relation_size: heap, indexes, TOAST. */
  readonly bytes: number;
  /** null when count(*) failed (a damaged page, say): `error` says why. */
  readonly rows: number | null;
  readonly error?: string;
}

/** Tables counted: the largest, by total size, over every database. */
export const LARGEST_TABLES = 10;

/** Lines of pg_amcheck's output kept in a failure's message. */
const AMCHECK_LINES = 5;

/** pg_amcheck --all on the copy; installs the amcheck extension there (the copy is thrown away). */
export async function runAmcheck(server: DrillServer, amcheck: string | undefined): Promise<CheckOutcome> {
  if (amcheck === undefined) {
    return { status: 'skipped', message: `pg_amcheck is not installed in '${server.settings.binDir}'` };
  }
  const { socketDir, port, user } = server.settings;
  const args = ['-h', socketDir, '-p', String(port), '-U', user, '--install-missing', '--all'];
  return new Promise((resolve) => {
    const child = spawn(amcheck, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PGCONNECT_TIMEOUT: '30' },
    });
    const output: string[] = [];
    let length = 0;
    const keep = (data: Buffer): void => {
      // Bounded: a badly damaged cluster can report a line per page.
      if (length < 64 * 1024) output.push(data.toString());
      length += data.length;
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (error) =>
      resolve({ status: 'failed', message: `unable to run '${amcheck}': ${messageOf(error)}` }),
    );
    child.once('close', (code, signal) => {
      if (code === 0) {
        resolve({ status: 'ok' });
        return;
      }
      const lines = output.join('').trim().split('\n').slice(0, AMCHECK_LINES).join(' / ');
      resolve({ status: 'failed', message: `pg_amcheck ${signal ?? `exit code ${code ?? '?'}`}: ${lines}` });
    });
  });
}

/** Runs `query` and compares the first column of its first row, as text, with `expected` (exactly). */
export async function runUserQuery(
  session: PgSession,
  query: string,
  expected: string,
): Promise<QueryOutcome> {
  let actual: string | null | undefined;
  try {
    actual = await session.firstText(query);
  } catch (error) {
    return { status: 'failed', query, expected, message: messageOf(error) };
  }
  const base = { query, expected, ...(actual === undefined ? {} : { actual }) };
  if (actual === expected) return { status: 'ok', ...base };
  const got = actual === undefined ? 'no row' : actual === null ? 'NULL' : `'${actual}'`;
  return { status: 'failed', ...base, message: `drill-query returned ${got}, drill-expect is '${expected}'` };
}

/** The databases a client may connect to (not template0). */
async function databases(session: PgSession): Promise<string[]> {
  const rows = await session.query<{ datname: string }>(
    'select datname from pg_database where datallowconn and not datistemplate order by datname',
  );
  return rows.map((row) => row.datname);
}

const LARGEST_SQL = `
select n.nspname as schema, c.relname as table, pg_total_relation_size(c.oid)::bigint::text as bytes
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('r', 'm') and n.nspname not in ('pg_catalog', 'information_schema')
   and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
 order by pg_total_relation_size(c.oid) desc, 1, 2 limit ${LARGEST_TABLES}`;

/** The LARGEST_TABLES largest tables over every database, each with its exact row count (count(*)). */
export async function countLargestTables(server: DrillServer): Promise<TableCount[]> {
  const first = await server.connect();
  let names: string[];
  try {
    names = await databases(first);
  } finally {
    await first.close();
  }
  const found: Omit<TableCount, 'rows'>[] = [];
  for (const database of names) {
    const session = await server.connect(database);
    try {
      const rows = await session.query<{ schema: string; table: string; bytes: string }>(LARGEST_SQL);
      for (const row of rows)
        found.push({ database, schema: row.schema, table: row.table, bytes: Number(row.bytes) });
    } finally {
      await session.close();
    }
  }
  found.sort(
    (a, b) => b.bytes - a.bytes || a.database.localeCompare(b.database) || a.table.localeCompare(b.table),
  );
  const counted: TableCount[] = [];
  for (const table of found.slice(0, LARGEST_TABLES)) {
    const session = await server.connect(table.database);
    try {
      const [row] = await session.query<{ rows: string }>(
        `select count(*)::text as rows from ${quoteIdent(table.schema)}.${quoteIdent(table.table)}`,
      );
      counted.push({ ...table, rows: Number(row?.rows ?? 0) });
    } catch (error) {
      // One table that cannot be read is reported, and the others still counted.
      if (!isPgStashError(error)) throw error;
      counted.push({ ...table, rows: null, error: error.message });
    } finally {
      await session.close();
    }
  }
  return counted;
}

/** An SQL identifier, quoted as quote_ident always may. */
function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
