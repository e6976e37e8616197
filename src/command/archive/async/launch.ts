// Starts the background process of asynchronous archiving, detached, unless one is running already.
// node:child_process and the lock code (node:crypto, node:os) are imported when used: the foreground of
// archive-push usually finds its answer in the spool and needs neither.
import type { LockType } from '../../../common/lock.js';
import { log } from '../../../common/log.js';
import type { CommandContext } from '../../context.js';

/** Set in the background process's environment: the same command line then runs the background role. */
export const BACKGROUND_ENV = 'PGSTASH_ARCHIVE_ASYNC_BACKGROUND';

export function isBackground(): boolean {
  return process.env[BACKGROUND_ENV] === '1';
}

/** Whether the stanza's background process of `type` runs (its lock is held by a live process). */
export async function backgroundRunning(lockPath: string, stanza: string, type: LockType): Promise<boolean> {
  const { lockHolder } = await import('../../../common/lock.js');
  return (await lockHolder({ lockPath, stanza, type }).catch(() => undefined)) !== undefined;
}

/**
 * Runs this same command line again as the background process, in its own session with no terminal or pipes, so
 * that it outlives the foreground command and PostgreSQL never waits on its output. It takes the lock itself:
 * when two foregrounds start one each, the second exits at once.
 */
export async function startBackground(context: CommandContext): Promise<void> {
  const { spawn } = await import('node:child_process');
  const [node = process.execPath, ...script] = context.executable;
  const child = spawn(node, [...script, ...process.argv.slice(2)], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, [BACKGROUND_ENV]: '1' },
  });
  child.on('error', (error) => log.error(`unable to start the background process: ${error.message}`));
  log.detail(`started ${context.config.command} background process ${String(child.pid)}`);
  child.unref();
}
