// Case "backup": a full backup and a restore of one pgbench cluster by each tool, per compress type and process-max.
//
// One cluster serves both tools. It archives all the time (archive_mode needs a restart to change), and
// archive_command is switched with ALTER SYSTEM + reload: to the measured tool's archive-push just before its
// backup (the backup waits for its last segment to reach that tool's repository: archive-check), and to
// /bin/true in between, so that no tool inherits a backlog of WAL to push. Each run gets a fresh repository
// and stanza, and restores into a new empty directory. Runs alternate which tool goes first.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PgCluster, pgBin } from '../test/harness/cluster.js';
import { execChecked } from '../test/harness/exec.js';
import { mkdirForPostgres } from '../test/harness/postgres-user.js';
import { setArchiveCommand } from '../test/harness/wal.js';
import { createTempDir, removeTempDir } from '../test/harness/tmp.js';
import { duBytes } from './disk-usage.js';
import { measureOk, type Measurement } from './measure.js';
import type { BenchCompress } from './settings.js';
import { alternate, type Tool, type ToolName } from './tools.js';

export interface BackupRun {
  readonly backup: Measurement;
  readonly restore: Measurement;
  /** `du -sb` of the backup's directory in the repository (manifest and files). */
  readonly repoBytes: number;
  /** `du -sb` of the restored data directory. */
  readonly restoredBytes: number;
}

export interface BackupCaseResult {
  readonly compress: BenchCompress;
  readonly processMax: number;
  readonly runs: Record<ToolName, BackupRun[]>;
}

export interface BackupResults {
  readonly scale: number;
  /** Sum of pg_database_size over all databases. */
  readonly databaseBytes: number;
  /** `du -sb` of the data directory without pg_wal: what a backup copies. */
  readonly dataDirBytes: number;
  readonly cases: BackupCaseResult[];
}

export interface BackupOptions {
  readonly tools: readonly [Tool, Tool];
  readonly scale: number;
  readonly compressTypes: readonly BenchCompress[];
  readonly processMax: readonly number[];
  readonly runs: number;
  readonly progress: (text: string) => void;
}

/** What archive_command is between measured backups: accept every segment and keep nothing. */
const DISCARD_WAL = '/bin/true';

export async function runBackupCase(options: BackupOptions): Promise<BackupResults> {
  const cluster = await PgCluster.create({
    walSegmentSizeMb: 16,
    settings: {
      archive_mode: 'on',
      archive_command: DISCARD_WAL,
      // pgbench -i must not trigger checkpoints by volume, so that the data is settled before the first run.
      max_wal_size: '4GB',
      checkpoint_timeout: '1h',
    },
  });
  const scratch = await createTempDir({ label: 'bench-backup' });
  try {
    await cluster.start();
    options.progress(`backup: pgbench -i -s ${String(options.scale)}`);
    await execChecked(pgBin('pgbench'), ['-i', '-q', '-s', String(options.scale)], {
      asPostgres: true,
      env: {
        PGHOST: cluster.socketDir,
        PGPORT: String(cluster.port),
        PGUSER: 'postgres',
        PGDATA: cluster.dataDir,
      },
      timeoutMs: Math.max(600_000, options.scale * 60_000),
    });
    await cluster.psql('checkpoint');
    await cluster.psql('select pg_switch_wal()');
    await waitArchiveIdle(cluster);
    const databaseBytes = Number(await cluster.psql('select sum(pg_database_size(oid)) from pg_database'));
    const dataDirBytes = (await duBytes(cluster.dataDir)) - (await duBytes(join(cluster.dataDir, 'pg_wal')));
    const cases: BackupCaseResult[] = [];
    let order = 0;
    for (const compress of options.compressTypes) {
      for (const processMax of options.processMax) {
        const runs: Record<ToolName, BackupRun[]> = { pgstash: [], pgbackrest: [] };
        for (let run = 0; run < options.runs; run++) {
          for (const tool of alternate(options.tools, order++)) {
            options.progress(
              `backup ${compress} process-max ${String(processMax)} run ${String(run + 1)}/${String(options.runs)}: ${tool.label}`,
            );
            runs[tool.name].push(
              await runOnce(tool, { cluster, scratch, compress, processMax, databaseBytes }),
            );
          }
        }
        cases.push({ compress, processMax, runs });
      }
    }
    return { scale: options.scale, databaseBytes, dataDirBytes, cases };
  } finally {
    await cluster.destroy();
    await removeTempDir(scratch);
  }
}

/** stanza-create on a fresh repository, backup (timed), restore into an empty directory (timed), clean up. */
async function runOnce(
  tool: Tool,
  options: {
    cluster: PgCluster;
    scratch: string;
    compress: BenchCompress;
    processMax: number;
    databaseBytes: number;
  },
): Promise<BackupRun> {
  const { cluster, scratch, compress, processMax } = options;
  const dir = await createTempDir({ label: `bench-${tool.name}-${compress}-p${String(processMax)}` });
  try {
    const repo = await tool.prepare(dir, { cluster, compress });
    await measureOk(repo.argv(['stanza-create']), { scratchDir: scratch });
    // Whatever the checkpoint at backup start would have to flush is flushed now, outside the timing.
    await cluster.psql('checkpoint');
    await setArchiveCommand({ cluster }, repo.archiveCommand);
    const backup = await measureOk(
      repo.argv(['backup', '--type=full', '--start-fast', `--process-max=${String(processMax)}`]),
      { scratchDir: scratch },
    );
    await setArchiveCommand({ cluster }, DISCARD_WAL);
    await waitArchiveIdle(cluster);
    const repoBytes = await duBytes(await repo.backupDir());

    const restoreDir = await mkdirForPostgres(join(dir, 'restore'), 0o700);
    const restore = await measureOk(
      repo.argv(['restore', `--pg1-path=${restoreDir}`, `--process-max=${String(processMax)}`]),
      { scratchDir: scratch },
    );
    const restoredBytes = await duBytes(restoreDir);
    if (!existsSync(join(restoreDir, 'PG_VERSION')) || restoredBytes < options.databaseBytes * 0.9) {
      throw new Error(
        `${tool.label} restore into '${restoreDir}' looks incomplete: ${String(restoredBytes)} bytes ` +
          `for ${String(options.databaseBytes)} bytes of databases`,
      );
    }
    return { backup, restore, repoBytes, restoredBytes };
  } finally {
    await removeTempDir(dir);
  }
}

/** Waits until no segment is waiting to be archived (no .ready file in pg_wal/archive_status). */
async function waitArchiveIdle(cluster: PgCluster): Promise<void> {
  const statusDir = join(cluster.dataDir, 'pg_wal', 'archive_status');
  for (let waited = 0; waited < 120_000; waited += 100) {
    if (!(await readdir(statusDir)).some((name) => name.endsWith('.ready'))) return;
    await sleep(100);
  }
  throw new Error(`WAL archiving did not catch up within 120 s\n${await cluster.logTail(20)}`);
}
