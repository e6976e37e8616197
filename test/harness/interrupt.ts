// Interrupting a full backup mid-copy (kill -9, SIGTERM) for the resume tests: start it in the background, watch
// its directory in a posix repository until the test's moment comes, signal it, and hand back the label it left.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecResult } from './exec.js';
import { labelDirs } from './backups.js';
import type { StanzaSetup } from './stanza.js';

/** Total bytes of the files under `dir` (a backup directory while it is written: files come and go). */
export async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (!entry.isFile()) continue;
    total += await stat(join(entry.parentPath, entry.name)).then(
      (s) => s.size,
      () => 0,
    );
  }
  return total;
}

/** The directory of backup `label` in the setup's (posix) repository. */
export function backupDir(setup: StanzaSetup, label: string): string {
  return join(setup.repoPath, 'backup', setup.stanza, label);
}

/**
 * Starts `backup --type=full --start-fast --process-max=1 ...args` as postgres and sends it `signal` once
 * `ready(label, dir)` holds for the directory of the backup it began (polled every `pollMs`); returns that label and
 * how the process ended. Fails when the backup ends first (it could not be interrupted) or never got ready.
 */
export async function interruptBackup(
  setup: StanzaSetup,
  options: {
    readonly signal: NodeJS.Signals;
    readonly ready: (label: string, dir: string) => Promise<boolean>;
    readonly args?: readonly string[];
    readonly pollMs?: number;
  },
): Promise<{ label: string; result: ExecResult }> {
  const before = new Set(await labelDirs(setup));
  const running = setup.spawn([
    'backup',
    '--type=full',
    '--start-fast',
    '--process-max=1',
    ...(options.args ?? []),
  ]);
  let ended = false;
  void running.done.then(() => (ended = true));
  let label: string | undefined;
  let ready = false;
  const deadline = Date.now() + 300_000;
  while (!ended && Date.now() < deadline) {
    label ??= (await labelDirs(setup)).find((name) => !before.has(name));
    if (label !== undefined && (await options.ready(label, backupDir(setup, label)))) {
      ready = true;
      break;
    }
    await sleep(options.pollMs ?? 10);
  }
  if (!ready) {
    running.kill('SIGKILL');
    const result = await running.done;
    throw new Error(
      `the backup ${ended ? 'ended' : 'was not ready'} before it could be interrupted (label ${label ?? 'none'})\n` +
        `${result.stdout}${result.stderr}`,
    );
  }
  running.kill(options.signal);
  return { label: label as string, result: await running.done };
}
