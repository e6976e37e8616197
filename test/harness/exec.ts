// Child processes for the test harness: run a program as root or as the postgres OS user, with an explicit env.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { POSTGRES_USER } from './postgres-user.js';

/** What a finished child process left behind. `code` is null only when a signal ended it. */
export interface ExecResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  /** Run as the postgres OS user through `runuser -u postgres --` (the tests themselves run as root). */
  readonly asPostgres?: boolean;
  /** Extra variables on top of the harness's minimal environment (see `baseEnv`). */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory; default the test's own for root, '/' for postgres. */
  readonly cwd?: string;
  /** Written to the child's stdin, which is then closed; without it stdin is empty. */
  readonly input?: string;
  /** Kill the child (SIGKILL) after this long; the result then has `signal` set. Default 120 s. */
  readonly timeoutMs?: number;
}

/**
 * The environment every harness child starts from. It is explicit rather than inherited so that variables
 * vitest sets for its workers (NODE_OPTIONS, VITEST_*) or a developer's PGSTASH_* settings do not leak into
 * the programs under test. The directory of the running node comes first on PATH so that a child `node`
 * is the same version as the tests (CI runs the suite under two Node versions).
 */
export function baseEnv(asPostgres: boolean): Record<string, string> {
  return {
    PATH: `${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: asPostgres ? '/var/lib/postgresql' : (process.env['HOME'] ?? '/root'),
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    TZ: process.env['TZ'] ?? 'UTC',
  };
}

/** Runs a program to its end and collects its output; never rejects because of a non-zero exit. */
export function exec(
  command: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const asPostgres = options.asPostgres ?? false;
  const env = { ...baseEnv(asPostgres), ...options.env };
  // runuser keeps the environment it is given (no -l), so the explicit env reaches the program unchanged.
  const [program, argv] = asPostgres
    ? ['runuser', ['-u', POSTGRES_USER, '--', command, ...args]]
    : [command, [...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(program, argv, {
      env,
      // The postgres user may not be allowed into the test's cwd, and initdb fails when it cannot getcwd().
      cwd: options.cwd ?? (asPostgres ? '/' : process.cwd()),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    // A child that exits before reading its stdin makes the write fail with EPIPE: that is not our error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`unable to run '${program}': ${error.message}`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}

/** Like `exec`, but a non-zero exit rejects with the command line and both outputs in the message. */
export async function execChecked(
  command: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const result = await exec(command, args, options);
  if (result.code !== 0) {
    const who = options.asPostgres === true ? ` (as ${POSTGRES_USER})` : '';
    throw new Error(
      `command failed${who} with ${result.signal ?? `exit code ${String(result.code)}`}: ` +
        `'${[command, ...args].join(' ')}'\n--- stdout ---\n${result.stdout}--- stderr ---\n${result.stderr}`,
    );
  }
  return result;
}

/**
 * Whether a process still runs. A zombie (exited, not yet reaped by its parent, which for a daemonized
 * postmaster is init) counts as gone: kill(pid, 0) alone would still succeed on it.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces and parentheses, so split at the last ')'.
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
