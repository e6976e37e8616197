// Case "verify": verify and drill time on the pgbench cluster (issue 16, Measure), pgstash beside pgBackRest.
//
// Per compress type, each tool in turn on a fresh repository, its archive_command on for the whole sequence: a full
// backup, a verify (timed), pgbench transactions (the same count for both), an incremental backup, then a verify of
// everything (timed) and, for pgstash, `verify --since-last` (timed: what a nightly run costs) and a drill of the
// newest backup (timed, with drill's own split of restore, recovery and checks). pgBackRest 2.45 has no incremental
// verify and no drill: those cells are empty. Both verify at the largest process-max of the run.
import { join } from 'node:path';
import { mkdirForPostgres } from '../test/harness/postgres-user.js';
import { createTempDir, removeTempDir } from '../test/harness/tmp.js';
import { createPgbenchCluster, runPgbench, withArchiveTo } from './bench-cluster.js';
import { measureOk, type Measurement } from './measure.js';
import type { BenchCompress } from './settings.js';
import { alternate, type Tool, type ToolName } from './tools.js';

/** pgstash's own account of a verify (its JSON report): files looked at, read, left unchanged, bytes read. */
export interface VerifyFiles {
  readonly checked: number;
  readonly read: number;
  readonly unchanged: number;
  readonly bytes: number;
  /** Of those read, the files read as stored (hashed against the ledger, not decoded); absent before it existed. */
  readonly 'as-stored'?: number;
}

/** A drill's phases as drill reports them (seconds). */
export interface DrillPhases {
  readonly restore: number | null;
  readonly recovery: number | null;
  readonly checks: number | null;
}

export interface VerifyToolRun {
  /** verify right after the full backup. */
  readonly verifyFull: Measurement;
  /** verify of everything after the incremental. */
  readonly verifyAfterIncr: Measurement;
  /** pgstash only: verify --since-last after the incremental (the ledger of the verify after the full). */
  readonly sinceLast?: Measurement;
  readonly sinceLastFiles?: VerifyFiles;
  readonly fullFiles?: VerifyFiles;
  /** pgstash only: drill of the newest backup. */
  readonly drill?: Measurement;
  readonly drillPhases?: DrillPhases;
}

export interface VerifyCaseResult {
  readonly compress: BenchCompress;
  readonly runs: Partial<Record<ToolName, VerifyToolRun>>;
}

export interface VerifyResults {
  readonly scale: number;
  readonly processMax: number;
  /** pgbench transactions between the full and the incremental. */
  readonly transactions: number;
  readonly cases: VerifyCaseResult[];
}

export interface VerifyOptions {
  readonly tools: readonly [Tool, Tool];
  readonly scale: number;
  readonly compressTypes: readonly BenchCompress[];
  readonly processMax: number;
  readonly progress: (text: string) => void;
}

/** pgbench transactions between the full and the incremental: about 1 % of the accounts touched. */
function transactionsFor(scale: number): number {
  return scale * 1000;
}

export async function runVerifyCase(options: VerifyOptions): Promise<VerifyResults> {
  const progress = (text: string): void => options.progress(`verify: ${text}`);
  const cluster = await createPgbenchCluster(options.scale, progress);
  const scratch = await createTempDir({ label: 'bench-verify' });
  const transactions = transactionsFor(options.scale);
  try {
    const cases: VerifyCaseResult[] = [];
    let order = 0;
    for (const compress of options.compressTypes) {
      const runs: Partial<Record<ToolName, VerifyToolRun>> = {};
      for (const tool of alternate(options.tools, order++)) {
        progress(`${compress}: ${tool.label}`);
        const dir = await createTempDir({ label: `bench-verify-${tool.name}-${compress}` });
        try {
          const repo = await tool.prepare(dir, { cluster, compress });
          const run = (args: readonly string[]): Promise<Measurement> =>
            measureOk(repo.argv(args), { scratchDir: scratch, timeoutMs: 60 * 60_000 });
          const verifyArgs = ['verify', `--process-max=${String(options.processMax)}`];
          const pgstash = tool.name === 'pgstash';
          runs[tool.name] = await withArchiveTo(cluster, repo.archiveCommand, async () => {
            await run(['stanza-create']);
            await run([
              'backup',
              '--type=full',
              '--start-fast',
              `--process-max=${String(options.processMax)}`,
            ]);
            const verifyFull = await run(pgstash ? [...verifyArgs, '--output=json'] : verifyArgs);
            checkClean(tool, verifyFull);
            await runPgbench(cluster, ['-n', '-c', '2', '-t', String(transactions / 2)], 30 * 60_000);
            await run([
              'backup',
              '--type=incr',
              '--start-fast',
              `--process-max=${String(options.processMax)}`,
            ]);
            if (!pgstash) {
              const verifyAfterIncr = await run(verifyArgs);
              checkClean(tool, verifyAfterIncr);
              return { verifyFull, verifyAfterIncr };
            }
            // --since-last first, so that it follows the ledger of the verify after the full.
            const sinceLast = await run([...verifyArgs, '--since-last', '--output=json']);
            const verifyAfterIncr = await run([...verifyArgs, '--output=json']);
            const drillPath = await mkdirForPostgres(join(dir, 'drills'), 0o700);
            const drill = await run(['drill', `--drill-path=${drillPath}`, '--output=json']);
            return {
              verifyFull,
              verifyAfterIncr,
              sinceLast,
              sinceLastFiles: filesOf(sinceLast),
              fullFiles: filesOf(verifyAfterIncr),
              drill,
              drillPhases: phasesOf(drill),
            };
          });
        } finally {
          await removeTempDir(dir);
        }
      }
      cases.push({ compress, runs });
    }
    return { scale: options.scale, processMax: options.processMax, transactions, cases };
  } finally {
    await cluster.destroy();
    await removeTempDir(scratch);
  }
}

/**
 * pgBackRest's verify exits 0 whatever it finds (its report says `status: error`): a figure of a verify that found
 * problems would not be comparable, so the run stops. pgstash's exits 114 then (measureOk stops the run).
 */
function checkClean(tool: Tool, measurement: Measurement): void {
  const output = measurement.stdout + measurement.stderr;
  if (/status: error|ERROR:/.test(output))
    throw new Error(`${tool.label} verify found problems on a sound repository:\n${output}`);
}

function filesOf(measurement: Measurement): VerifyFiles {
  const json = JSON.parse(measurement.stdout) as { repos: { files: VerifyFiles }[] };
  const files = json.repos[0]?.files;
  if (files === undefined) throw new Error(`pgstash verify printed no repository:\n${measurement.stdout}`);
  return files;
}

function phasesOf(measurement: Measurement): DrillPhases {
  const json = JSON.parse(measurement.stdout) as { time: DrillPhases };
  return { restore: json.time.restore, recovery: json.time.recovery, checks: json.time.checks };
}
