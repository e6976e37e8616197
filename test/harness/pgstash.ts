// Runs the built pgstash CLI (bin/pgstash -> dist/bundle/cli.cjs) as a child process, as root or as postgres.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec, type ExecResult } from './exec.js';
import { assertPostgresCanRead } from './postgres-user.js';

/** The checkout: the nearest directory with a package.json (this file also runs compiled, from dist/, in the demo). */
function findRepoRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above '${start}'`);
    dir = parent;
  }
  return dir;
}

/** The repository checkout the tests run from. */
export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
/** The CLI entry point that users and PostgreSQL's archive_command run. */
export const PGSTASH_BIN = join(REPO_ROOT, 'bin', 'pgstash');
/** What bin/pgstash imports: present only after `npm run build` (npm ci builds through the prepare script). */
export const PGSTASH_CLI_JS = join(REPO_ROOT, 'dist', 'bundle', 'cli.cjs');

export interface PgstashRunOptions {
  /** Run as root (default) or as the postgres OS user, as PostgreSQL runs archive_command. */
  readonly as?: 'root' | 'postgres';
  /** Variables added to the child's explicit, minimal environment (e.g. PGSTASH_* options). */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Standard input for the child; empty when not given. */
  readonly input?: string;
  /** Kill the child after this long (default 300 s); the result's `signal` then says so. */
  readonly timeoutMs?: number;
}

/** The exit code (null when a signal ended the process), the signal, and the whole stdout and stderr. */
export type PgstashResult = ExecResult;

/**
 * Runs `node bin/pgstash <args>` with the node that runs the tests and resolves with its exit code and output;
 * a non-zero exit never rejects (tests assert on it). Rejects only when the CLI is not built or, for
 * `as: 'postgres'`, when the postgres user cannot read the checkout.
 */
export async function runPgstash(
  args: readonly string[],
  options: PgstashRunOptions = {},
): Promise<PgstashResult> {
  const asPostgres = options.as === 'postgres';
  assertBuilt();
  if (asPostgres) assertPostgresCanRunPgstash();
  return exec(process.execPath, [PGSTASH_BIN, ...args], {
    asPostgres,
    env: options.env ?? {},
    cwd: options.cwd ?? (asPostgres ? '/' : REPO_ROOT),
    input: options.input ?? '',
    timeoutMs: options.timeoutMs ?? 300_000,
  });
}

/**
 * The shell command line for archive_command / restore_command: the absolute node binary of this test run
 * (so the server runs pgstash under the same Node version as the tests, whatever its PATH), the absolute
 * bin/pgstash and `--config=<configPath>`, each shell-quoted. Append the command and its arguments, e.g.
 * `${pgstashCommandLine(config)} --stanza=main archive-push %p`.
 */
export function pgstashCommandLine(configPath: string): string {
  assertBuilt();
  assertPostgresCanRunPgstash();
  return [process.execPath, PGSTASH_BIN, `--config=${configPath}`].map(shellQuote).join(' ');
}

/** Quotes a word for /bin/sh; words made only of safe characters stay as they are for readable logs. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./=:@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

function assertBuilt(): void {
  if (!existsSync(PGSTASH_CLI_JS)) {
    throw new Error(
      `the pgstash CLI is not built: '${PGSTASH_CLI_JS}' is missing\nHINT: run 'npm run build' (npm ci runs it too).`,
    );
  }
}

/** The postgres user must reach the node binary, bin/pgstash, the compiled code and node_modules. */
function assertPostgresCanRunPgstash(): void {
  assertPostgresCanRead(process.execPath, { execute: true });
  assertPostgresCanRead(PGSTASH_BIN);
  assertPostgresCanRead(PGSTASH_CLI_JS);
  assertPostgresCanRead(join(REPO_ROOT, 'node_modules', '.package-lock.json'));
}
