// WAL helpers for integration tests: force a switch, wait until the archiver has archived a segment.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
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

/**
 * Forces WAL switches, one every few seconds, until the archiver has archived one of them: returns that segment,
 * or fails with the log. After failures PostgreSQL's archiver waits up to a minute unless a new segment wakes it,
 * and a wake-up that comes while it still retries (or before it has reloaded a repaired archive_command) is lost.
 */
export async function switchUntilArchived(setup: { cluster: PgCluster }, timeoutSec = 90): Promise<string> {
  const deadline = Date.now() + timeoutSec * 1000;
  for (;;) {
    const segment = await switchWal(setup);
    try {
      await waitArchived(setup, segment, 5);
      return segment;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
}

/**
 * ALTER SYSTEM archive_command + reload, then waits (up to 10 s) until a new session sees the value: the
 * postmaster has reloaded by then and has signalled the archiver, which re-reads its configuration before it
 * archives the next segment.
 */
export async function setArchiveCommand(setup: { cluster: PgCluster }, command: string): Promise<void> {
  await setup.cluster.psql(
    `alter system set archive_command = '${command.replaceAll("'", "''")}'; select pg_reload_conf()`,
  );
  for (let tries = 0; (await setup.cluster.psql('show archive_command')) !== command; tries++) {
    if (tries >= 100) throw new Error(`archive_command is not '${command}' 10 s after a reload`);
    await sleep(100);
  }
}

/** Waits until no segment is waiting to be archived (no .ready file in pg_wal/archive_status). */
export async function waitArchiveIdle(cluster: PgCluster): Promise<void> {
  const statusDir = join(cluster.dataDir, 'pg_wal', 'archive_status');
  for (let waited = 0; waited < 120_000; waited += 100) {
    if (!(await readdir(statusDir)).some((name) => name.endsWith('.ready'))) return;
    await sleep(100);
  }
  throw new Error(`WAL archiving did not catch up within 120 s\n${await cluster.logTail(20)}`);
}
