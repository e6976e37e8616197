// Case "archive-async": WAL archiving with archive-async=y under a write-heavy load, then recovery through it.
//
// Per compression type and tool: a fresh PostgreSQL cluster (archive_mode=on) archives into the tool's own
// repository with archive-async=y, its own spool-path and process-max 2 (the same [global] lines for both
// tools). After a full backup, a bulk INSERT load runs for a fixed time while pg_wal/archive_status is sampled
// (the most .ready files waiting); then the load stops, the last segment is switched out and the archive drains.
// Then the backup is restored into a new directory and started with the restore_command the tool's restore
// wrote (its archive-get prefetching: archive-async=y, archive-get-queue-max): recovery replays every archived
// segment to the end of the archive and promotes; the time from start to promotion is the recovery time, and the
// restored table must have the rows the original had. The tools alternate which goes first from one compression
// type to the next.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PgCluster } from '../test/harness/cluster.js';
import { mkdirForPostgres } from '../test/harness/postgres-user.js';
import { createTempDir, removeTempDir } from '../test/harness/tmp.js';
import { setArchiveCommand } from '../test/harness/wal.js';
import { measureOk } from './measure.js';
import type { BenchCompress } from './settings.js';
import { alternate, type Tool, type ToolName } from './tools.js';

/** process-max of the archive commands in this case, for both tools. */
export const ASYNC_PROCESS_MAX = 2;
/** archive-get-queue-max of both tools (pgBackRest's and pgstash's default). */
const GET_QUEUE_MAX = '128MiB';
/** How often pg_wal/archive_status is sampled for waiting segments. */
const SAMPLE_MS = 200;
/** Give up waiting for the archive to drain (or recovery to end) after this long. */
const DRAIN_TIMEOUT_MS = 15 * 60_000;
/** Rows per INSERT of the load (about 1 KiB each); each statement is its own transaction. */
const ROWS_PER_INSERT = 20_000;

export interface AsyncArchiveRun {
  /** Segments PostgreSQL archived from the start of the load until the archive had drained (pg_stat_archiver). */
  readonly segments: number;
  /** Length of the load. */
  readonly loadMs: number;
  /** From the end of the load until no .ready file was left. */
  readonly drainMs: number;
  /** Segments archived during the drain alone (the archiver's rate with nothing else running). */
  readonly drainSegments: number;
  /** The most .ready files seen at once in pg_wal/archive_status. */
  readonly maxReady: number;
  /** Segments archived with a failure first (pg_stat_archiver.failed_count). */
  readonly failed: number;
  /** Recovery: from starting the restored server until it promoted at the end of the archive. */
  readonly recoveryMs: number;
  /** Rows of the load table, in the original and in the restored cluster (they must be equal). */
  readonly rows: number;
}

export interface AsyncArchiveResults {
  readonly loadSeconds: number;
  readonly processMax: number;
  readonly byCompress: readonly {
    readonly compress: BenchCompress;
    readonly runs: Readonly<Record<ToolName, AsyncArchiveRun>>;
  }[];
}

export interface AsyncArchiveOptions {
  readonly tools: readonly [Tool, Tool];
  readonly compressTypes: readonly BenchCompress[];
  readonly loadSeconds: number;
  readonly progress: (text: string) => void;
}

export async function runArchiveAsyncCase(options: AsyncArchiveOptions): Promise<AsyncArchiveResults> {
  const byCompress: { compress: BenchCompress; runs: Record<ToolName, AsyncArchiveRun> }[] = [];
  let order = 0;
  for (const compress of options.compressTypes) {
    const runs = {} as Record<ToolName, AsyncArchiveRun>;
    for (const tool of alternate(options.tools, order++)) {
      const say = (text: string): void =>
        options.progress(`archive-async ${compress} ${tool.label}: ${text}`);
      runs[tool.name] = await runOnce(tool, { compress, loadSeconds: options.loadSeconds, say });
    }
    byCompress.push({ compress, runs });
  }
  return { loadSeconds: options.loadSeconds, processMax: ASYNC_PROCESS_MAX, byCompress };
}

async function runOnce(
  tool: Tool,
  options: { compress: BenchCompress; loadSeconds: number; say: (text: string) => void },
): Promise<AsyncArchiveRun> {
  const { compress, say } = options;
  const dir = await createTempDir({ label: `bench-async-${tool.name}-${compress}` });
  const cluster = await PgCluster.create({
    walSegmentSizeMb: 16,
    settings: {
      archive_mode: 'on',
      archive_command: '/bin/true',
      max_wal_size: '1GB',
      checkpoint_timeout: '1h',
    },
  });
  let restored: PgCluster | undefined;
  try {
    const spool = await mkdirForPostgres(join(dir, 'spool'), 0o750);
    const repo = await tool.prepare(dir, {
      cluster,
      compress,
      extra: {
        'archive-async': 'y',
        'spool-path': spool,
        'process-max': String(ASYNC_PROCESS_MAX),
        'archive-get-queue-max': GET_QUEUE_MAX,
      },
    });
    await cluster.start();
    await measureOk(repo.argv(['stanza-create']), { scratchDir: dir });
    await setArchiveCommand({ cluster }, repo.archiveCommand);
    await cluster.psql('create table bulk (id int, payload text)');
    say('full backup');
    await measureOk(repo.argv(['backup', '--type=full', '--start-fast']), { scratchDir: dir });
    await waitDrained(cluster, () => undefined);
    const before = await archiverCounts(cluster);

    say(`load for ${String(options.loadSeconds)} s`);
    let maxReady = 0;
    const sample = (ready: number): void => {
      maxReady = Math.max(maxReady, ready);
    };
    const sampler = startSampler(cluster, sample);
    const loadStart = Date.now();
    try {
      await cluster.psql(loadSql(options.loadSeconds), { timeoutSec: options.loadSeconds + 600 });
      await cluster.psql('select pg_switch_wal()');
    } finally {
      sampler.stop();
    }
    const loadEnd = Date.now();
    const atLoadEnd = await archiverCounts(cluster);
    say('waiting for the archive to drain');
    await waitDrained(cluster, sample);
    const drained = Date.now();
    const after = await archiverCounts(cluster);
    const rows = Number(await cluster.psql('select count(*) from bulk'));
    await cluster.stop('fast');

    say('restore, then recovery through archive-get with prefetch');
    const restoreDir = await mkdirForPostgres(join(dir, 'restore'), 0o700);
    await measureOk(repo.argv(['restore', `--pg1-path=${restoreDir}`]), { scratchDir: dir });
    // restore_command is the one each tool's restore wrote into postgresql.auto.conf, as a DBA gets it.
    restored = await PgCluster.fromDataDir(restoreDir, { settings: { archive_mode: 'off' } });
    const recoveryStart = Date.now();
    await restored.start({ wait: false });
    await restored.waitForRecoveryEnd(DRAIN_TIMEOUT_MS / 1000);
    const recoveryMs = Date.now() - recoveryStart;
    const restoredRows = Number(await restored.psql('select count(*) from bulk'));
    if (restoredRows !== rows) {
      throw new Error(
        `${tool.label}: the restored cluster has ${String(restoredRows)} rows, the original ${String(rows)}`,
      );
    }
    return {
      segments: after.archived - before.archived,
      loadMs: loadEnd - loadStart,
      drainMs: drained - loadEnd,
      drainSegments: after.archived - atLoadEnd.archived,
      maxReady,
      failed: after.failed - before.failed,
      recoveryMs,
      rows,
    };
  } finally {
    await restored?.destroy();
    await cluster.destroy();
    await removeTempDir(dir);
  }
}

/** One DO block inserting ~20 MiB per committed statement until `seconds` have passed. */
function loadSql(seconds: number): string {
  return `do $$
declare stop_at timestamptz := clock_timestamp() + interval '${String(seconds)} seconds';
begin
  while clock_timestamp() < stop_at loop
    insert into bulk select g, repeat(md5(g::text), 32) from generate_series(1, ${String(ROWS_PER_INSERT)}) g;
    commit;
  end loop;
end $$;`;
}

async function readyCount(cluster: PgCluster): Promise<number> {
  const names = await readdir(join(cluster.dataDir, 'pg_wal', 'archive_status'));
  return names.filter((name) => name.endsWith('.ready')).length;
}

/** Samples the .ready count every SAMPLE_MS until stopped. */
function startSampler(cluster: PgCluster, sample: (ready: number) => void): { stop: () => void } {
  let stopped = false;
  const loop = async (): Promise<void> => {
    while (!stopped) {
      sample(await readyCount(cluster).catch(() => 0));
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    }
  };
  void loop();
  return {
    stop: () => {
      stopped = true;
    },
  };
}

/** Waits, sampling, until no .ready file is left. */
async function waitDrained(cluster: PgCluster, sample: (ready: number) => void): Promise<void> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const ready = await readyCount(cluster);
    sample(ready);
    if (ready === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `the archive did not drain in ${String(DRAIN_TIMEOUT_MS / 60_000)} min\n${await cluster.logTail(20)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
  }
}

async function archiverCounts(cluster: PgCluster): Promise<{ archived: number; failed: number }> {
  const [archived = '0', failed = '0'] = (
    await cluster.psql('select archived_count, failed_count from pg_stat_archiver')
  ).split('|');
  return { archived: Number(archived), failed: Number(failed) };
}
