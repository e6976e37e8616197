// Runs one command as the postgres OS user under GNU time: wall time, CPU time and peak RSS of its process tree.
//
// The child is spawned directly with the postgres uid/gid (no runuser, whose PAM session would add milliseconds
// to every archive-push), wrapped in `/usr/bin/time -f '%e %U %S %M %O'`. GNU time reads the rusage that wait4()
// returns for the tool's process, and Linux folds into it every descendant that was waited for: CPU time is the
// sum over the tool and its worker processes, and max RSS is the largest single process among them (not a sum).
// Bytes written (%O, in 512-byte blocks) is the kernel's write_bytes of the tree: what it sent toward storage,
// counted when a page is dirtied or a direct write is issued.
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { baseEnv } from '../test/harness/exec.js';
import { POSTGRES_USER, postgresIds } from '../test/harness/postgres-user.js';

/** GNU time; the benchmark checks that it is installed before it starts. */
export const TIME_BIN = '/usr/bin/time';

export interface Measurement {
  /** Wall-clock time from spawn to exit, measured here with a monotonic clock. */
  readonly wallMs: number;
  /** User + system CPU time of the process and its waited-for children (GNU time: 10 ms resolution). */
  readonly cpuMs: number;
  /** Largest resident set of any single process of the tree, in KiB. */
  readonly maxRssKiB: number;
  /** Bytes the tree wrote toward storage (GNU time %O x 512: block-device writes, page cache included). */
  readonly writtenBytes: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface MeasureOptions {
  /** A directory the postgres user may write to: GNU time writes its report there. */
  readonly scratchDir: string;
  /** Kill the command after this long (default 30 minutes). */
  readonly timeoutMs?: number;
  /** Called with the pid of GNU time once it runs (its only child is the measured command). */
  readonly onSpawn?: (timePid: number) => void;
}

let sequence = 0;
/** Output is kept for error messages only; a runaway command must not fill memory. */
const OUTPUT_LIMIT = 64 * 1024;

/** Runs `argv` as postgres under GNU time; never rejects because of the command's exit code. */
export async function measure(argv: readonly string[], options: MeasureOptions): Promise<Measurement> {
  const [program, ...args] = argv;
  if (program === undefined) throw new Error('measure: empty command line');
  const report = join(options.scratchDir, `time-${String(process.pid)}-${String(++sequence)}.txt`);
  const { uid, gid } = postgresIds();
  const started = process.hrtime.bigint();
  const outcome = await new Promise<{ code: number | null; ended: bigint; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(TIME_BIN, ['-f', '%e %U %S %M %O', '-o', report, program, ...args], {
        uid,
        gid,
        // USER and LOGNAME as runuser or a login would set them (node-postgres takes its default user from USER).
        env: { ...baseEnv(true), USER: POSTGRES_USER, LOGNAME: POSTGRES_USER },
        // PostgreSQL runs archive_command from the data directory; '/' is readable by everyone.
        cwd: '/',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      if (child.pid !== undefined) options.onSpawn?.(child.pid);
      let ended: bigint | undefined;
      let code: number | null = null;
      const stdout = collect(child.stdout);
      const stderr = collect(child.stderr);
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30 * 60_000);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`unable to run '${TIME_BIN}': ${error.message}`, { cause: error }));
      });
      // 'exit' marks the end of the timing; 'close' (all output read) comes a moment later.
      child.on('exit', (exitCode) => {
        ended = process.hrtime.bigint();
        code = exitCode;
      });
      child.on('close', () => {
        clearTimeout(timer);
        resolve({ code, ended: ended ?? process.hrtime.bigint(), stdout: stdout(), stderr: stderr() });
      });
    },
  );
  const usage = await readTimeReport(report, argv);
  return {
    wallMs: Number(outcome.ended - started) / 1e6,
    cpuMs: usage.cpuMs,
    maxRssKiB: usage.maxRssKiB,
    writtenBytes: usage.writtenBytes,
    code: outcome.code,
    stdout: outcome.stdout,
    stderr: outcome.stderr,
  };
}

/** Like `measure`, but a non-zero exit rejects with the command line and its output. */
export async function measureOk(argv: readonly string[], options: MeasureOptions): Promise<Measurement> {
  const result = await measure(argv, options);
  if (result.code !== 0) {
    throw new Error(
      `command failed with exit code ${String(result.code)}: '${argv.join(' ')}'\n` +
        `--- stdout ---\n${result.stdout}--- stderr ---\n${result.stderr}`,
    );
  }
  return result;
}

/**
 * GNU time writes "Command exited with non-zero status N" (or "Command terminated by signal N") before the
 * formatted line when the command failed, so the figures are on the last line.
 */
async function readTimeReport(path: string, argv: readonly string[]): Promise<TimeReport> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`GNU time left no report for '${argv.join(' ')}' in '${path}'`, { cause: error });
  } finally {
    await rm(path, { force: true });
  }
  const report = parseTimeReport(text);
  if (report === undefined)
    throw new Error(`unexpected GNU time report '${text.trim()}' for '${argv.join(' ')}'`);
  return report;
}

export interface TimeReport {
  readonly cpuMs: number;
  readonly maxRssKiB: number;
  readonly writtenBytes: number;
}

/** The figures of a report written with '%e %U %S %M %O' (the last line), or undefined when it has no such line. */
export function parseTimeReport(text: string): TimeReport | undefined {
  const last = text.trim().split('\n').at(-1) ?? '';
  const fields = last.trim().split(/\s+/).map(Number);
  const [, user, system, maxRss, outputs] = fields;
  if (
    fields.length !== 5 ||
    user === undefined ||
    system === undefined ||
    maxRss === undefined ||
    outputs === undefined ||
    fields.some(Number.isNaN)
  ) {
    return undefined;
  }
  return { cpuMs: (user + system) * 1000, maxRssKiB: maxRss, writtenBytes: outputs * 512 };
}

/** Collects a stream's text up to OUTPUT_LIMIT characters (the rest is counted, not kept). */
function collect(stream: NodeJS.ReadableStream): () => string {
  let text = '';
  let dropped = 0;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const room = OUTPUT_LIMIT - text.length;
    if (room > 0) text += chunk.slice(0, room);
    dropped += Math.max(0, chunk.length - Math.max(room, 0));
  });
  return () => (dropped > 0 ? `${text}\n[... ${String(dropped)} more characters]\n` : text);
}
