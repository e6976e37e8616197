// archive-push with archive-async=y: the foreground waits for its segment's status in the spool; the background
// process (push-background.ts) pushes every ready segment in parallel and writes those statuses.
//
// The foreground is PostgreSQL's archive_command, one process per segment, one at a time: this module imports
// only what answering from the spool needs; the repository code and the background's are loaded when used.
import { basename, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { messageOf, PgStashError } from '../../../common/errors.js';
import { log } from '../../../common/log.js';
import { readControlFile } from '../../../postgres/control.js';
import type { CommandContext } from '../../context.js';
import { requireWalFileName } from '../wal-source.js';
import { backgroundRunning, isBackground, startBackground } from './launch.js';
import {
  clearStatus,
  GLOBAL_STATUS,
  makeSpoolDir,
  pushSpoolDir,
  readStatusOrClear,
  statusError,
} from './spool.js';

/**
 * Pause between looks at the spool: short at first (the answer is often there at once), then up to this. PostgreSQL
 * archives one segment at a time, so each millisecond here is a millisecond of the archiver's per-segment cycle.
 */
const POLL_MAX_MS = 20;
/** Least time between two starts of the background process by one foreground. */
const RESTART_MS = 1000;

/**
 * archive-push through the spool, or undefined when the working directory is not the cluster's data directory
 * (PostgreSQL runs archive_command there: its pg_control names the cluster): archive-push then pushes itself.
 */
export async function archivePushAsync(context: CommandContext): Promise<number | undefined> {
  const control = await readControlFile(process.cwd()).catch((error: unknown) => {
    log.detail(`archive-async: no spool without the cluster's pg_control (${messageOf(error)})`);
    return undefined;
  });
  // The background process never pushes without its spool.
  if (control === undefined) return isBackground() ? 0 : undefined;
  const spool = pushSpoolDir(
    context.config.get('spool-path'),
    context.config.require('stanza'),
    control.systemId,
  );
  if (!isBackground()) return pushForeground(context, spool);
  return (await import('./push-background.js')).pushBackground(context, spool);
}

/**
 * The foreground, run by archive_command: succeeds once `<segment>.ok` is in the spool, fails with the recorded
 * error once `<segment>.error` is (after letting a new background process retry an error left from before), and
 * starts the background process whenever none runs. Gives up after archive-timeout (82): PostgreSQL retries.
 */
async function pushForeground(context: CommandContext, spool: string): Promise<number> {
  const { config } = context;
  const walPath = resolve(config.args[0] ?? '');
  const name = basename(walPath);
  requireWalFileName(name);
  const stanza = config.require('stanza');
  const lockPath = config.get('lock-path');
  const timeoutSec = config.get('archive-timeout');
  const deadline = Date.now() + timeoutSec * 1000;
  let first = true;
  let started = 0;
  for (let pause = 1; ; pause = Math.min(pause * 2, POLL_MAX_MS)) {
    const status = await readStatusOrClear(spool, name);
    if (status?.kind === 'ok') {
      if (status.message !== undefined) log.warn(status.message);
      log.info(`pushed WAL file '${name}' to the archive asynchronously`);
      return 0;
    }
    if (status?.kind === 'error') {
      if (!first) throw statusError(status);
      // Left by an earlier background process: a new one retries the segment.
      await clearStatus(spool, name);
    }
    const global = first ? undefined : await readStatusOrClear(spool, GLOBAL_STATUS);
    if (global?.kind === 'error') throw statusError(global);
    if (Date.now() - started >= RESTART_MS && !(await backgroundRunning(lockPath, stanza, 'archive'))) {
      // An error of the last background process as a whole is answered by starting a new one.
      await clearStatus(spool, GLOBAL_STATUS);
      await makeSpoolDir(spool);
      await startBackground(context);
      started = Date.now();
    }
    first = false;
    if (Date.now() >= deadline) {
      throw new PgStashError(
        'archiveTimeout',
        `unable to push WAL file '${name}' to the archive asynchronously after ${timeoutSec} second(s)`,
        { hint: 'check the archive-push-async messages in the log (log-path) for the reason' },
      );
    }
    await sleep(pause);
  }
}
