// Case "backup": a full backup and a restore of one pgbench cluster by each tool, per compress type and process-max.
//
// One cluster serves both tools. It archives all the time (archive_mode needs a restart to change), and
// archive_command is switched with ALTER SYSTEM + reload: to the measured tool's archive-push just before its
// backup (the backup waits for its last segment to reach that tool's repository: archive-check), and to
// /bin/true in between, so that no tool inherits a backlog of WAL to push. Each run gets a fresh repository
// and stanza, and restores into a new empty directory. Runs alternate which tool goes first.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PgCluster } from '../test/harness/cluster.js';
import { mkdirForPostgres } from '../test/harness/postgres-user.js';
import { setArchiveCommand, waitArchiveIdle } from '../test/harness/wal.js';
import { createTempDir, removeTempDir } from '../test/harness/tmp.js';
import { createPgbenchCluster, DISCARD_WAL } from './bench-cluster.js';
import { duBytes } from './disk-usage.js';
import { measureOk, type Measurement } from './measure.js';
import { bundleLines, type BenchCompress } from './settings.js';
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
  /** Both tools bundle small files (PGSTASH_BENCH_BUNDLE). */
  readonly bundle: boolean;
  readonly progress: (text: string) => void;
}

export async function runBackupCase(options: BackupOptions): Promise<BackupResults> {
  const cluster = await createPgbenchCluster(options.scale, (text) => options.progress(`backup: ${text}`));
  const scratch = await createTempDir({ label: 'bench-backup' });
  try {
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
              await runOnce(tool, {
                cluster,
                scratch,
                compress,
                processMax,
                databaseBytes,
                bundle: options.bundle,
              }),
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
    bundle: boolean;
  },
): Promise<BackupRun> {
  const { cluster, scratch, compress, processMax } = options;
  const dir = await createTempDir({ label: `bench-${tool.name}-${compress}-p${String(processMax)}` });
  try {
    const repo = await tool.prepare(dir, { cluster, compress, extra: bundleLines(options.bundle) });
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
