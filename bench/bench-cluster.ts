// The benchmark's PostgreSQL cluster: pgbench data, archive_command switched per measured tool, pgbench runs.
//
// The cluster archives all the time (archive_mode needs a restart to change), and archive_command is switched with
// ALTER SYSTEM + reload: to the measured tool's archive-push just before its backup (the backup waits for its last
// segment to reach that tool's repository: archive-check), and to /bin/true in between, so that no tool inherits
// a backlog of WAL to push.
import { PgCluster, pgBin } from '../test/harness/cluster.js';
import { execChecked } from '../test/harness/exec.js';
import { setArchiveCommand, waitArchiveIdle } from '../test/harness/wal.js';

/** What archive_command is between measured backups: accept every segment and keep nothing. */
export const DISCARD_WAL = '/bin/true';

/** A started cluster with `pgbench -i -s <scale>` loaded, checkpointed and its WAL archived (discarded). */
export async function createPgbenchCluster(
  scale: number,
  progress: (text: string) => void,
): Promise<PgCluster> {
  const cluster = await PgCluster.create({
    walSegmentSizeMb: 16,
    settings: {
      archive_mode: 'on',
      archive_command: DISCARD_WAL,
      // pgbench must not trigger checkpoints by volume, so that the data is settled before the first run.
      max_wal_size: '4GB',
      checkpoint_timeout: '1h',
    },
  });
  try {
    await cluster.start();
    progress(`pgbench -i -s ${String(scale)}`);
    await runPgbench(cluster, ['-i', '-q', '-s', String(scale)], Math.max(600_000, scale * 60_000));
    await cluster.psql('checkpoint');
    await cluster.psql('select pg_switch_wal()');
    await waitArchiveIdle(cluster);
    return cluster;
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
}

/** Runs pgbench against the cluster as postgres. */
export async function runPgbench(
  cluster: PgCluster,
  args: readonly string[],
  timeoutMs = 600_000,
): Promise<void> {
  await execChecked(pgBin('pgbench'), [...args], {
    asPostgres: true,
    env: {
      PGHOST: cluster.socketDir,
      PGPORT: String(cluster.port),
      PGUSER: 'postgres',
      PGDATA: cluster.dataDir,
    },
    timeoutMs,
  });
}

/**
 * Runs `during` with archive_command pushing into one tool's repository, then discards WAL again and waits until
 * nothing is left to archive. A CHECKPOINT first, outside the timing: whatever the backup's own checkpoint would
 * flush is flushed now.
 */
export async function withArchiveTo<T>(
  cluster: PgCluster,
  archiveCommand: string,
  during: () => Promise<T>,
): Promise<T> {
  await cluster.psql('checkpoint');
  await waitArchiveIdle(cluster);
  await setArchiveCommand({ cluster }, archiveCommand);
  try {
    return await during();
  } finally {
    await setArchiveCommand({ cluster }, DISCARD_WAL);
    await waitArchiveIdle(cluster);
  }
}
