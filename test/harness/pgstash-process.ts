// A pgstash process running in the background as the postgres user, with its own pid, so a test can signal it (kill -9).
//
// runPgstash goes through runuser, whose pid is not pgstash's; this spawns node directly with the postgres uid
// and gid, so `pid` is the pgstash process itself.
import { spawn } from 'node:child_process';
import { baseEnv, processAlive, type ExecResult } from './exec.js';
import { PGSTASH_BIN } from './pgstash.js';
import { POSTGRES_USER, postgresIds } from './postgres-user.js';
import { onProcessExit } from './reaper.js';

export interface BackgroundPgstash {
  readonly pid: number;
  /** Resolves when the process ends, with its exit code or signal and its whole output. */
  readonly done: Promise<ExecResult>;
  /** Sends a signal to the process (SIGKILL for a crash). */
  kill(signal: NodeJS.Signals): void;
}

/** Starts `node bin/pgstash <args>` as postgres; the process is SIGKILLed if the test process exits first. */
export function spawnPgstash(args: readonly string[]): BackgroundPgstash {
  const { uid, gid } = postgresIds();
  const child = spawn(process.execPath, [PGSTASH_BIN, ...args], {
    uid,
    gid,
    // What runuser adds for a non-root user: libraries that default the database user to $USER rely on it.
    env: { ...baseEnv(true), USER: POSTGRES_USER, LOGNAME: POSTGRES_USER },
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`unable to start pgstash ${args.join(' ')}`);
  const unregister = onProcessExit('server', () => {
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const done = new Promise<ExecResult>((resolve, reject) => {
    child.on('error', (error) => {
      unregister();
      reject(error);
    });
    child.on('close', (code, signal) => {
      unregister();
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
  return {
    pid,
    done,
    kill(signal) {
      child.kill(signal);
    },
  };
}
