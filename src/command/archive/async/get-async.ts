// archive-get with archive-async=y: the foreground serves segments from the spool; the background process
// prefetches the next segments into it.
import { copyFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoOf, isPgStashError, messageOf, PgStashError } from '../../../common/errors.js';
import { acquireLock, type Lock } from '../../../common/lock.js';
import { log } from '../../../common/log.js';
import { readControlFile, type ControlData } from '../../../postgres/control.js';
import { nextSegment, parseWalFileName } from '../../../postgres/wal-name.js';
import type { CommandContext } from '../../context.js';
import { ARCHIVE_GET_NOT_FOUND } from '../recovery-exit.js';
import { backgroundRunning, isBackground, startBackground } from './launch.js';
import { getQueue } from './queue.js';
import {
  clearStatus,
  getSpoolDir,
  makeSpoolDir,
  readStatusOrClear,
  statusError,
  writeStatus,
} from './spool.js';

/** Pause between looks at the spool: short at first, then up to this. */
const POLL_MAX_MS = 100;
/** Least time between two starts of the background process by one foreground. */
const RESTART_MS = 1000;
/** The background's first segment when not the one on its command line (a refill after a served segment). */
const FIRST_ENV = 'PGSTASH_ARCHIVE_ASYNC_FIRST';

/**
 * Answers restore_command for `walFileName` through the spool: 0 once the segment is at `destination`, 1 when
 * the background found it in no repository, or throws its recorded error. Undefined for what the spool does not
 * hold (history files, partial segments) or when the working directory is not a data directory: archive-get then
 * fetches it itself.
 */
export async function archiveGetAsync(
  context: CommandContext,
  walFileName: string,
  destination: string,
): Promise<number | undefined> {
  if (parseWalFileName(walFileName)?.kind !== 'segment') return undefined;
  // PostgreSQL runs restore_command in the data directory: its pg_control names the cluster being recovered.
  const control = await readControlFile(process.cwd()).catch((error: unknown) => {
    log.detail(`archive-async: no spool without the cluster's pg_control (${messageOf(error)})`);
    return undefined;
  });
  // The background process never writes to restore_command's destination.
  if (control === undefined) return isBackground() ? 0 : undefined;
  if (isBackground()) return getBackground(context, control, process.env[FIRST_ENV] ?? walFileName);
  return getForeground(context, control, walFileName, destination);
}

async function getForeground(
  context: CommandContext,
  control: ControlData,
  walFileName: string,
  destination: string,
): Promise<number> {
  const { config } = context;
  const stanza = config.require('stanza');
  const lockPath = config.get('lock-path');
  const dir = getSpoolDir(config.get('spool-path'), stanza, control.systemId);
  const timeoutSec = config.get('archive-timeout');
  const deadline = Date.now() + timeoutSec * 1000;
  let first = true;
  let started = 0;
  for (let pause = 1; ; pause = Math.min(pause * 2, POLL_MAX_MS)) {
    if (await serve(join(dir, walFileName), destination)) {
      log.info(`found ${walFileName} in the archive asynchronously`);
      await refill(context, control, dir, walFileName);
      return 0;
    }
    const status = await readStatusOrClear(dir, walFileName);
    if (status !== undefined) {
      // Each answer is used once. One older than archive-timeout answered a foreground that gave up: stale (the
      // segment may have been archived since), asked again.
      await clearStatus(dir, walFileName);
      const fresh = Date.now() - status.written <= timeoutSec * 1000;
      if (fresh && status.kind === 'ok') {
        log.info(`unable to find ${walFileName} in the archive asynchronously`);
        return ARCHIVE_GET_NOT_FOUND;
      }
      // An error is retried once by a new background process before it is reported.
      if (fresh && status.kind === 'error' && !first) throw statusError(status);
    }
    if (Date.now() - started >= RESTART_MS && !(await backgroundRunning(lockPath, stanza, 'archive-get'))) {
      await makeSpoolDir(dir);
      startBackground(context);
      started = Date.now();
    }
    first = false;
    if (Date.now() >= deadline) {
      throw new PgStashError(
        'archiveTimeout',
        `unable to get WAL file '${walFileName}' from the archive asynchronously after ${timeoutSec} second(s)`,
        { hint: 'check the archive-get messages in the log (log-path) for the reason' },
      );
    }
    await sleep(pause);
  }
}

/**
 * Moves the spooled segment to `destination`: one rename on the same file system; elsewhere a copy to a temp name
 * beside it renamed into place, then the spool's copy removed. False when the spool does not have it.
 */
async function serve(spooled: string, destination: string): Promise<boolean> {
  try {
    await rename(spooled, destination);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    if (errnoOf(error) !== 'EXDEV') throw error;
  }
  const temp = `${destination}.pgstash.tmp`;
  try {
    await copyFile(spooled, temp);
    await rename(temp, destination);
  } catch (error) {
    await rm(temp, { force: true });
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
  await rm(spooled, { force: true });
  return true;
}

/** Starts prefetching after `served` when no background runs and less than half the queue is left spooled. */
async function refill(
  context: CommandContext,
  control: ControlData,
  dir: string,
  served: string,
): Promise<void> {
  const { config } = context;
  const queue = getQueue(served, control.walSegmentSize, config.get('archive-get-queue-max')).length;
  const spooled = (await readdir(dir)).filter((name) => !name.startsWith('.')).length;
  if (spooled * 2 >= queue - 1) return;
  if (await backgroundRunning(config.get('lock-path'), config.require('stanza'), 'archive-get')) return;
  process.env[FIRST_ENV] = nextSegment(served, control.walSegmentSize);
  startBackground(context);
}

/**
 * The background process: holds the stanza's archive-get lock (only one runs), removes from the spool what is not
 * in the queue (segments before `first`, beyond the queue, temp files of a killed run), then fetches the queue's
 * segments not spooled yet, process-max at a time, each written whole and fsynced under its name. A segment in no
 * repository ends the queue; for `first` itself it is recorded (`.ok`, empty) so the foreground answers "not
 * found" at once. An error is recorded as `<segment>.error`.
 */
async function getBackground(context: CommandContext, control: ControlData, first: string): Promise<number> {
  const { config } = context;
  const stanza = config.require('stanza');
  let lock: Lock;
  try {
    lock = await acquireLock({ lockPath: config.get('lock-path'), stanza, type: 'archive-get' });
  } catch (error) {
    if (isPgStashError(error, 'lockAcquire')) return 0;
    throw error;
  }
  try {
    const dir = getSpoolDir(config.get('spool-path'), stanza, control.systemId);
    await makeSpoolDir(dir);
    const queue = getQueue(first, control.walSegmentSize, config.get('archive-get-queue-max'));
    const inQueue = new Set(queue);
    const present = new Set<string>();
    for (const file of await readdir(dir)) {
      const segment = file.replace(/\.(ok|error)$/, '');
      if (file.startsWith('.') || !inQueue.has(segment)) await rm(join(dir, file), { force: true });
      // An answer left from before is no reason not to fetch: the segment may have been archived since.
      else if (segment === file) present.add(segment);
    }
    const { fetchWal } = await import('../get.js');
    const { openEachRepository } = await import('../../../repo/repository.js');
    const { selectedRepos } = await import('../../repo-select.js');
    const repos = await openEachRepository(selectedRepos(config), stanza);
    let end = queue.length;
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let index = next++; index < end; index = next++) {
        const segment = queue[index] ?? '';
        if (present.has(segment)) continue;
        try {
          if (await fetchWal(repos, segment, join(dir, segment), true)) continue;
          end = Math.min(end, index);
          if (index === 0) await writeStatus(dir, segment, { kind: 'ok', code: 0 });
        } catch (error) {
          end = Math.min(end, index);
          const code = isPgStashError(error) ? error.code : 122;
          log.error(`[${code}]: ${messageOf(error)}`);
          await writeStatus(dir, segment, { kind: 'error', code, message: messageOf(error) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(config.get('process-max'), queue.length) }, worker));
    // Segments fetched past the end of the archive (a worker ahead of the one that found the gap) stay: each is
    // the archive's content for its name.
    return 0;
  } finally {
    await lock.release();
  }
}
