// Cases hot-set, scattered, resume, delta-restore and chain: the M3 scenarios on one shared pgbench cluster.
//
// One cluster (pgbench scale from the settings) serves every scenario and both tools. For each compression type,
// each selected scenario opens a fresh repository per tool (incremental-session.ts), runs (incremental-scenarios.ts)
// and removes the repositories. The data keeps changing from one scenario to the next, but within a scenario both
// tools back up the same data.
import type { PgCluster } from '../test/harness/cluster.js';
import { createTempDir, removeTempDir } from '../test/harness/tmp.js';
import type { BlockMode } from './block-mode.js';
import { createPgbenchCluster } from './bench-cluster.js';
import {
  chain,
  deltaRestore,
  hotSet,
  resume,
  scattered,
  type ChainResult,
  type DeltaRestoreResult,
  type IncrementalPair,
  type ResumeResult,
  type ScenarioContext,
} from './incremental-scenarios.js';
import { ToolSession } from './incremental-session.js';
import { INCREMENTAL_CASES, type BenchCompress, type IncrementalCase } from './settings.js';
import type { Tool } from './tools.js';

/** Each scenario's result type. */
export interface ScenarioResults {
  readonly 'hot-set': IncrementalPair;
  readonly scattered: IncrementalPair;
  readonly resume: ResumeResult;
  readonly 'delta-restore': DeltaRestoreResult;
  readonly chain: ChainResult;
}

const SCENARIOS: {
  readonly [K in IncrementalCase]: (context: ScenarioContext) => Promise<ScenarioResults[K]>;
} = {
  'hot-set': hotSet,
  scattered,
  resume,
  'delta-restore': deltaRestore,
  chain,
};

export interface IncrementalCompressResult {
  readonly compress: BenchCompress;
  readonly scenarios: Partial<ScenarioResults>;
}

export interface IncrementalResults {
  readonly scale: number;
  readonly block: BlockMode;
  readonly chainLength: number;
  readonly byCompress: IncrementalCompressResult[];
  /** Wall time each scenario took, over all compression types (its setup included). */
  readonly durationMs: Partial<Record<IncrementalCase, number>>;
  /** Loading the cluster (pgbench -i). */
  readonly setupMs: number;
  /** Why the run stopped early (the results hold what finished before). */
  readonly failure?: string;
}

export interface IncrementalOptions {
  readonly tools: readonly [Tool, Tool];
  readonly scale: number;
  readonly compressTypes: readonly BenchCompress[];
  readonly cases: readonly IncrementalCase[];
  readonly block: BlockMode;
  readonly chainLength: number;
  /** Restores of each kind in the chain scenario, interleaved (PGSTASH_BENCH_RUNS); the median is reported. */
  readonly runs: number;
  readonly progress: (text: string) => void;
}

export async function runIncrementalCases(options: IncrementalOptions): Promise<IncrementalResults> {
  const started = Date.now();
  const cluster = await createPgbenchCluster(options.scale, (text) =>
    options.progress(`incremental: ${text}`),
  );
  const scratch = await createTempDir({ label: 'bench-incremental' });
  const setupMs = Date.now() - started;
  const durationMs: Partial<Record<IncrementalCase, number>> = {};
  const byCompress: IncrementalCompressResult[] = [];
  let turn = 0;
  let failure: string | undefined;
  try {
    for (const compress of options.compressTypes) {
      const scenarios: Partial<Record<IncrementalCase, unknown>> = {};
      byCompress.push({ compress, scenarios: scenarios as Partial<ScenarioResults> });
      for (const name of INCREMENTAL_CASES.filter((entry) => options.cases.includes(entry))) {
        const caseStarted = Date.now();
        const progress = (text: string): void => options.progress(`${name} ${compress}: ${text}`);
        progress(`pgstash block incremental ${options.block.reason}`);
        const sessions = await openSessions(options, { cluster, scratch, compress, label: name });
        try {
          const context: ScenarioContext = {
            sessions,
            cluster,
            scale: options.scale,
            chainLength: options.chainLength,
            runs: options.runs,
            progress,
            turn,
          };
          scenarios[name] = await SCENARIOS[name](context);
          turn = context.turn;
        } catch (error) {
          failure = `${name} ${compress}: ${error instanceof Error ? error.message : String(error)}`;
        } finally {
          for (const session of sessions) await session.close();
        }
        durationMs[name] = (durationMs[name] ?? 0) + Date.now() - caseStarted;
        if (failure !== undefined) break;
      }
      if (failure !== undefined) break;
    }
    return {
      scale: options.scale,
      block: options.block,
      chainLength: options.chainLength,
      byCompress,
      durationMs,
      setupMs,
      ...(failure === undefined ? {} : { failure }),
    };
  } finally {
    await cluster.destroy();
    await removeTempDir(scratch);
  }
}

async function openSessions(
  options: IncrementalOptions,
  init: { cluster: PgCluster; scratch: string; compress: BenchCompress; label: string },
): Promise<readonly [ToolSession, ToolSession]> {
  const [first, second] = options.tools;
  const block = options.block.on;
  const one = await ToolSession.open(first, { ...init, block });
  try {
    return [one, await ToolSession.open(second, { ...init, block })];
  } catch (error) {
    await one.close();
    throw error;
  }
}
