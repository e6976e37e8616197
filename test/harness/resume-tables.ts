// The data the backup resume tests interrupt a copy of: many tables of about 5 MB (one relation file each), whose
// content one query sums up, and the wait that makes their files' mtimes older than the next backup's start.
import { setTimeout as sleep } from 'node:timers/promises';
import type { PgCluster } from './cluster.js';

/** SQL creating tables t0..t<count-1> of 40,000 rows, about 5 MB each. */
export function fiveMegabyteTables(count: number): string {
  return Array.from(
    { length: count },
    (_, i) =>
      `create table t${i} (id int primary key, body text);
       insert into t${i} select g, repeat(md5((g + ${i})::text), 3) from generate_series(1, 40000) g;`,
  ).join('\n');
}

/** One md5 over every row of tables t0..t<count-1>, in order: the same on a restore exactly when the data is. */
export function tablesContentQuery(count: number): string {
  const parts = Array.from(
    { length: count },
    (_, i) => `(select md5(string_agg(id || ':' || body, ',' order by id)) from t${i})`,
  );
  return `select md5(${parts.join(' || ')})`;
}

/**
 * A checkpoint, then the next second: the files written so far have an mtime before any backup started after it,
 * as a resume requires to trust them.
 */
export async function settleMtimes(cluster: PgCluster): Promise<void> {
  await cluster.psql('checkpoint');
  await sleep(1100);
}
