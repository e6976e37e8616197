// What the harness's storage servers share: a self-signed certificate to serve TLS with, starting a server process
// until it answers, and stopping it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { onProcessExit } from './reaper.js';

/** A self-signed certificate for 127.0.0.1 and localhost, valid two days. */
export async function makeCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const result = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`openssl failed: ${result.stderr}`);
  return { cert, key };
}

/** SIGTERM, then SIGKILL after 10 s; resolves once the server has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A server process started by spawnServer. */
export interface ServerProcess {
  /** Stops the process (SIGTERM, then SIGKILL); resolves once it has exited. */
  stop(): Promise<void>;
}

export interface SpawnServerOptions {
  /** The server's working directory; its output goes to server.log there. */
  readonly dir: string;
  readonly env?: NodeJS.ProcessEnv;
  /** One probe: whether the server answers yet. */
  answers(): Promise<boolean>;
  readonly timeoutMs: number;
}

/**
 * Starts `command` (killed should the test process exit first) and polls `answers()` every 100 ms until it is
 * true; fails with the tail of the server's log if it exits before, or does not answer within the timeout.
 */
export async function spawnServer(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnServerOptions,
): Promise<ServerProcess> {
  const log = join(options.dir, 'server.log');
  const output = openSync(log, 'a');
  const child = spawn(command, args, {
    cwd: options.dir,
    env: options.env ?? process.env,
    stdio: ['ignore', output, output],
  });
  closeSync(output);
  const unregister = onProcessExit('server', () => child.kill('SIGKILL'));
  const stop = async (): Promise<void> => {
    await stopChild(child);
    unregister();
  };
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `${name} exited (${String(code ?? signal)}) before it was ready`;
  });
  try {
    const deadline = Date.now() + options.timeoutMs;
    while (!(await options.answers())) {
      if (exited !== undefined) throw new Error(exited);
      if (Date.now() > deadline) throw new Error(`${name} did not answer in ${options.timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await stop();
    const text = await readFile(log, 'utf8').catch(() => '');
    throw new Error(`${(error as Error).message}; its log:\n${text.slice(-3000)}`);
  }
  return { stop };
}
