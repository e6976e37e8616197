// WAL helpers for integration tests: force a switch, wait until the archiver has archived a segment.
import { setTimeout as sleep } from 'node:timers/promises';
import type { PgCluster } from './cluster.js';

/** Waits until the archiver has archived `walFile` or a later one (pg_stat_archiver), or fails with the log. */
export async function waitArchived(
  setup: { cluster: PgCluster },
  walFile: string,
  timeoutSec = 60,
): Promise<void> {
  const deadline = Date.now() + timeoutSec * 1000;
  while (Date.now() < deadline) {
    const last = await setup.cluster.psql("select coalesce(last_archived_wal, '') from pg_stat_archiver");
    if (last.length === walFile.length && last >= walFile) return;
    await sleep(100);
  }
  throw new Error(`${walFile} was not archived in ${timeoutSec}s\n${await setup.cluster.logTail(40)}`);
}

/** Forces a WAL switch and returns the name of the segment switched out. */
export async function switchWal(setup: { cluster: PgCluster }): Promise<string> {
  return setup.cluster.psql('select pg_walfile_name(pg_switch_wal())');
}
