// The M3 scenarios (issue 14, "Measure"): hot-set, scattered, resume, delta restore and a chain of incrementals.
//
// Each scenario gives both tools a fresh repository and a full backup of the same data, changes the data once,
// and has both tools do the same thing next, taking turns at going first (tools.ts: alternate).
import type { PgCluster } from '../test/harness/cluster.js';
import { runPgbench } from './bench-cluster.js';
import type { Measurement } from './measure.js';
import type { BackupStep, KilledBackup, ToolSession } from './incremental-session.js';
import { alternate, type ToolName } from './tools.js';

export type PerTool<T> = Record<ToolName, T>;

/** What a scenario gets: both tools' sessions (pgstash first), the cluster, and whose turn it is to go first. */
export interface ScenarioContext {
  readonly sessions: readonly [ToolSession, ToolSession];
  readonly cluster: PgCluster;
  readonly scale: number;
  readonly chainLength: number;
  /** Restores of each kind in the chain scenario (PGSTASH_BENCH_RUNS). */
  readonly runs: number;
  readonly progress: (text: string) => void;
  /** Counts turns, so that the first tool alternates from one step to the next. */
  turn: number;
}

/** Runs `step` for each tool, alternating who goes first, and returns the results by tool. */
async function each<T>(
  context: ScenarioContext,
  step: (session: ToolSession) => Promise<T>,
): Promise<PerTool<T>> {
  const results: Partial<PerTool<T>> = {};
  for (const session of alternate(context.sessions, context.turn++)) {
    results[session.tool.name] = await step(session);
  }
  return results as PerTool<T>;
}

/** Rows of pgbench_accounts (scale x 100 000) and a contiguous 1 % of them starting at `fraction` of the table. */
export function contiguousRange(scale: number, fraction: number): { first: number; last: number } {
  const rows = scale * 100_000;
  const count = Math.max(1, Math.round(rows / 100));
  const first = Math.min(rows - count, Math.floor(rows * fraction)) + 1;
  return { first, last: first + count - 1 };
}

async function updateContiguousPercent(context: ScenarioContext, fraction: number): Promise<void> {
  const { first, last } = contiguousRange(context.scale, fraction);
  context.progress(`update pgbench_accounts where aid between ${String(first)} and ${String(last)} (1 %)`);
  await context.cluster.psql(
    `update pgbench_accounts set abalance = abalance + 1 where aid between ${String(first)} and ${String(last)}`,
    { timeoutSec: 1800 },
  );
}

export interface IncrementalPair {
  readonly full: PerTool<BackupStep>;
  readonly incr: PerTool<BackupStep>;
}

/** hot-set: full, update a contiguous 1 % of pgbench_accounts, incr. */
export async function hotSet(context: ScenarioContext): Promise<IncrementalPair> {
  const full = await each(context, (session) => session.backup('full'));
  await updateContiguousPercent(context, 0.25);
  const incr = await each(context, (session) => session.backup('incr'));
  return { full, incr };
}

/** scattered: full, `pgbench -T 30` (updates spread over the whole table), incr. */
export async function scattered(context: ScenarioContext): Promise<IncrementalPair> {
  const full = await each(context, (session) => session.backup('full'));
  context.progress('pgbench -T 30');
  await runPgbench(context.cluster, ['-n', '-c', '2', '-j', '2', '-T', '30']);
  const incr = await each(context, (session) => session.backup('incr'));
  return { full, incr };
}

export interface ResumeResult {
  readonly fresh: PerTool<BackupStep>;
  readonly killed: PerTool<KilledBackup>;
  readonly resumed: PerTool<BackupStep>;
}

/** Fraction of a fresh full's stored bytes at which the interrupted full is killed. */
export const KILL_AT = 0.7;

/** resume: a fresh full (the reference), a full killed with SIGKILL at 70 % of its bytes, and the next full. */
export async function resume(context: ScenarioContext): Promise<ResumeResult> {
  const fresh = await each(context, (session) => session.backup('full'));
  const killed = await each(context, (session) =>
    session.killedFull(Math.round(fresh[session.tool.name].repoGrowth * KILL_AT)),
  );
  const resumed = await each(context, (session) => session.backup('full'));
  return { fresh, killed, resumed };
}

export interface DeltaRestoreResult {
  /** Restore of the full into an empty directory. */
  readonly full: PerTool<Measurement>;
  /** The incr after changing 1 % of the data. */
  readonly incr: PerTool<BackupStep>;
  /** restore --delta of that incr into the directory of the first restore (files compared by checksum). */
  readonly delta: PerTool<Measurement>;
  /**
   * restore --delta --force of that incr into a second restore of the full: both tools then keep a file whose
   * size and modification time match the backup's without reading it (pgBackRest's rule for --force).
   */
  readonly deltaForce: PerTool<Measurement>;
}

/**
 * delta-restore: full, restore it into two empty directories (the first timed), change 1 %, incr, restore --delta
 * into the first and --delta --force into the second.
 */
export async function deltaRestore(context: ScenarioContext): Promise<DeltaRestoreResult> {
  await each(context, (session) => session.backup('full'));
  const restores = await each(context, (session) => session.restoreNew());
  const second = await each(context, (session) => session.restoreNew());
  await updateContiguousPercent(context, 0.5);
  const incr = await each(context, (session) => session.backup('incr'));
  const delta = await each(context, (session) => session.restoreDelta(restores[session.tool.name].dir));
  const deltaForce = await each(context, (session) =>
    session.restoreDelta(second[session.tool.name].dir, { force: true }),
  );
  await each(context, async (session) => {
    await session.removeRestore(restores[session.tool.name].dir);
    await session.removeRestore(second[session.tool.name].dir);
  });
  return {
    full: { pgstash: restores.pgstash.measurement, pgbackrest: restores.pgbackrest.measurement },
    incr,
    delta,
    deltaForce,
  };
}

export interface ChainResult {
  readonly length: number;
  readonly incrs: PerTool<BackupStep[]>;
  /**
   * Restore of the last incremental into an empty directory: the run of median wall time among `runs`, with the
   * peak RSS of them all.
   */
  readonly restoreLast: PerTool<Measurement>;
  /** A full of the same data right after, and its restore into an empty directory (as restoreLast). */
  readonly full: PerTool<BackupStep>;
  readonly restoreFull: PerTool<Measurement>;
  /** expire --repo1-retention-full=1 after that full: removes the whole chain. */
  readonly expire: PerTool<Measurement>;
}

/** Transactions of the small pgbench run before each incremental of the chain. */
export const CHAIN_TRANSACTIONS = 300;

/**
 * chain: full, then `chainLength` times (small pgbench run, incr); a full; then `runs` times the restore of the
 * last incr (by its label) and of the full, in turn, so that both see the machine alike; expire.
 */
export async function chain(context: ScenarioContext): Promise<ChainResult> {
  await each(context, (session) => session.backup('full'));
  const incrs: PerTool<BackupStep[]> = { pgstash: [], pgbackrest: [] };
  for (let index = 0; index < context.chainLength; index++) {
    if (index % 5 === 0) context.progress(`chain: incr ${String(index + 1)}/${String(context.chainLength)}`);
    await runPgbench(context.cluster, ['-n', '-c', '1', '-t', String(CHAIN_TRANSACTIONS)]);
    const step = await each(context, (session) => session.backup('incr'));
    incrs.pgstash.push(step.pgstash);
    incrs.pgbackrest.push(step.pgbackrest);
  }
  const full = await each(context, (session) => session.backup('full'));
  const lastRuns: PerTool<Measurement[]> = { pgstash: [], pgbackrest: [] };
  const fullRuns: PerTool<Measurement[]> = { pgstash: [], pgbackrest: [] };
  for (let run = 0; run < context.runs; run++) {
    context.progress(`chain: restores ${String(run + 1)}/${String(context.runs)}`);
    const last = await restoreAndRemove(context, (tool) => incrs[tool].at(-1)?.figures.label);
    const whole = await restoreAndRemove(context, () => undefined);
    for (const tool of ['pgstash', 'pgbackrest'] as const) {
      lastRuns[tool].push(last[tool]);
      fullRuns[tool].push(whole[tool]);
    }
  }
  const expire = await each(context, (session) => session.expire(1));
  return {
    length: context.chainLength,
    incrs,
    restoreLast: { pgstash: medianRun(lastRuns.pgstash), pgbackrest: medianRun(lastRuns.pgbackrest) },
    full,
    restoreFull: { pgstash: medianRun(fullRuns.pgstash), pgbackrest: medianRun(fullRuns.pgbackrest) },
    expire,
  };
}

/** The run of median wall time (the lower middle of an even count), with the peak RSS of all the runs. */
function medianRun(runs: readonly Measurement[]): Measurement {
  const byWall = [...runs].sort((a, b) => a.wallMs - b.wallMs);
  const middle = byWall[Math.floor((byWall.length - 1) / 2)];
  if (middle === undefined) throw new Error('no restore measured');
  return { ...middle, maxRssKiB: Math.max(...runs.map((run) => run.maxRssKiB)) };
}

/** Restores into a new directory (the backup `setOf` names for the tool, else the newest), then removes it. */
async function restoreAndRemove(
  context: ScenarioContext,
  setOf: (tool: ToolName) => string | undefined = () => undefined,
): Promise<PerTool<Measurement>> {
  return each(context, async (session) => {
    const { measurement, dir } = await session.restoreNew(setOf(session.tool.name));
    await session.removeRestore(dir);
    return measurement;
  });
}
