// What one benchmark run measures, read from PGSTASH_BENCH_* environment variables with defaults for a full run.

/**
 * The parts of the benchmark: per-segment WAL archiving, a full backup and restore of a cluster, the M3
 * scenarios of incremental backup, resume and delta restore (bench/incremental.ts), and a full backup and restore
 * on a local S3 server (bench/s3.ts, at the largest process-max), and verify and drill time (bench/verify.ts).
 */
export const BENCH_CASES = [
  'archive',
  'backup',
  'hot-set',
  'scattered',
  'resume',
  'delta-restore',
  'chain',
  's3',
  'verify',
  'archive-async',
] as const;
export type BenchCase = (typeof BENCH_CASES)[number];
/** The cases that run on the shared incremental-scenario cluster (bench/incremental.ts). */
export const INCREMENTAL_CASES = ['hot-set', 'scattered', 'resume', 'delta-restore', 'chain'] as const;
export type IncrementalCase = (typeof INCREMENTAL_CASES)[number];
/**
 * pgstash's block incremental (repo1-block=y): 'auto' turns it on when the option table lists repo-block as
 * available (bench/block-mode.ts), so the benchmark uses it as soon as it is real.
 */
export type BenchBlock = 'auto' | 'on' | 'off';
/** Compression types both tools support and the benchmark compares. */
export type BenchCompress = 'lz4' | 'zst';

export interface BenchSettings {
  readonly cases: readonly BenchCase[];
  /** pgbench scale of the cluster that is backed up and restored (50 is about 800 MB). */
  readonly scale: number;
  /** How many real 16 MiB WAL segments each tool pushes and gets per compression type. */
  readonly segments: number;
  readonly compressTypes: readonly BenchCompress[];
  /** process-max values of the backup case. */
  readonly processMax: readonly number[];
  /** How many times each backup/restore case runs per tool (the table shows the median). */
  readonly runs: number;
  /** pgstash's block incremental in the incremental scenarios. */
  readonly block: BenchBlock;
  /** Incremental backups in the chain case. */
  readonly chainLength: number;
  /** Seconds of write load in the archive-async case. */
  readonly archiveSeconds: number;
  /** Both tools bundle small files (repo1-bundle=y) in the backup and s3 cases. */
  readonly bundle: boolean;
  /** Where the results file goes (relative to the checkout unless absolute). */
  readonly resultsDir: string;
}

/** The environment variables the benchmark reads, with their meaning, for the error message and the docs. */
export const SETTING_HELP: Readonly<Record<string, string>> = {
  PGSTASH_BENCH_CASES: `comma-separated cases to run: ${BENCH_CASES.join(', ')} (default all)`,
  PGSTASH_BENCH_SCALE: 'pgbench scale of the backed-up cluster (default 50, about 800 MB)',
  PGSTASH_BENCH_SEGMENTS: 'WAL segments pushed and fetched per tool and compression (default 20)',
  PGSTASH_BENCH_COMPRESS: 'comma-separated compress types: lz4, zst (default both)',
  PGSTASH_BENCH_PROCESS_MAX: 'comma-separated process-max values for backup and restore (default 1,2)',
  PGSTASH_BENCH_RUNS:
    'runs per backup/restore case and tool, and of the chain restores; the median is reported (default 1)',
  PGSTASH_BENCH_BLOCK:
    "pgstash's block incremental in the incremental cases: auto (on when the option table has repo-block), on, off",
  PGSTASH_BENCH_CHAIN: 'incremental backups in the chain case (default 30)',
  PGSTASH_BENCH_BUNDLE: 'y: the backup and s3 cases run both tools with repo1-bundle=y (default n)',
  PGSTASH_BENCH_ARCHIVE_SECONDS: 'seconds of bulk-insert load in the archive-async case (default 30)',
  PGSTASH_BENCH_RESULTS_DIR: 'directory of the results file (default .bench)',
};

/** Reads the settings; an invalid value throws naming the variable and what it accepts. */
export function readSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  return {
    cases: list(env, 'PGSTASH_BENCH_CASES', BENCH_CASES, BENCH_CASES),
    scale: positiveInt(env, 'PGSTASH_BENCH_SCALE', 50, 10_000),
    segments: positiveInt(env, 'PGSTASH_BENCH_SEGMENTS', 20, 1000),
    compressTypes: list(env, 'PGSTASH_BENCH_COMPRESS', ['lz4', 'zst'] as const, ['lz4', 'zst']),
    processMax: intList(env, 'PGSTASH_BENCH_PROCESS_MAX', [1, 2]),
    runs: positiveInt(env, 'PGSTASH_BENCH_RUNS', 1, 100),
    block: one(env, 'PGSTASH_BENCH_BLOCK', ['auto', 'on', 'off'] as const, 'auto'),
    chainLength: positiveInt(env, 'PGSTASH_BENCH_CHAIN', 30, 1000),
    archiveSeconds: positiveInt(env, 'PGSTASH_BENCH_ARCHIVE_SECONDS', 30, 3600),
    bundle: one(env, 'PGSTASH_BENCH_BUNDLE', ['y', 'n'] as const, 'n') === 'y',
    resultsDir: env['PGSTASH_BENCH_RESULTS_DIR'] ?? '.bench',
  };
}

function invalid(name: string, value: string, expected: string): Error {
  return new Error(
    `invalid ${name} '${value}': expected ${expected}\nHINT: ${name}: ${SETTING_HELP[name] ?? ''}`,
  );
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw invalid(name, text, `an integer from 1 to ${String(max)}`);
  return value;
}

function intList(env: NodeJS.ProcessEnv, name: string, fallback: readonly number[]): number[] {
  const text = env[name];
  if (text === undefined || text === '') return [...fallback];
  const values = text.split(',').map((word) => Number(word.trim()));
  if (values.some((value) => !Number.isInteger(value) || value < 1 || value > 64))
    throw invalid(name, text, 'comma-separated integers from 1 to 64');
  return [...new Set(values)];
}

function list<T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  allowed: readonly T[],
  fallback: readonly T[],
): T[] {
  const text = env[name];
  if (text === undefined || text === '') return [...fallback];
  const words = text
    .split(',')
    .map((word) => word.trim())
    .filter((word) => word !== '');
  const isAllowed = (word: string): word is T => (allowed as readonly string[]).includes(word);
  if (words.length === 0 || !words.every(isAllowed))
    throw invalid(name, text, `a comma-separated list of ${allowed.join(', ')}`);
  return [...new Set(words.filter(isAllowed))];
}

function one<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[], fallback: T): T {
  const text = env[name]?.trim();
  if (text === undefined || text === '') return fallback;
  const isAllowed = (word: string): word is T => (allowed as readonly string[]).includes(word);
  if (!isAllowed(text)) throw invalid(name, text, `one of ${allowed.join(', ')}`);
  return text;
}

/** The [global] lines that make both tools bundle small files when `bundle` (an option of both, same name). */
export function bundleLines(bundle: boolean): Record<string, string> {
  return bundle ? { 'repo1-bundle': 'y' } : {};
}
