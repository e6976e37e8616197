// archive-get with archive-async=y: the foreground serves segments from the spool; the background process
// prefetches the next segments into it.
import { copyFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoOf, isPgStashError, messageOf, PgStashError } from '../../../common/errors.js';
import { acquireLockUnlessHeld } from '../../../common/lock.js';
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

/** Pause between looks at the spool: short at first, then up to this (each ms is one of recovery's per segment). */
const POLL_MAX_MS = 20;
/** How long the background process, its queue full, waits for recovery to take a segment before it exits. */
const LINGER_MS = 2000;
/** Pause between two looks at the spool while the background process waits. */
const LINGER_POLL_MS = 25;
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
      await startBackground(context);
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
  await startBackground(context);
}

/**
 * The background process: holds the stanza's archive-get lock (only one runs), removes from the spool what is not
 * in the queue (segments before `first`, beyond the queue, temp files of a killed run), then fetches the queue's
 * segments not spooled yet, process-max at a time, each written whole and fsynced under its name. A segment in no
 * repository ends the queue; for `first` itself it is recorded (`.ok`, empty) so the foreground answers "not
 * found" at once. An error is recorded as `<segment>.error`. With the whole queue spooled, it waits for recovery to
 * take segments and moves the queue on (waitForConsumption).
 */
async function getBackground(context: CommandContext, control: ControlData, first: string): Promise<number> {
  const { config } = context;
  const stanza = config.require('stanza');
  const lock = await acquireLockUnlessHeld({
    lockPath: config.get('lock-path'),
    stanza,
    type: 'archive-get',
  });
  if (lock === undefined) return 0;
  try {
    const dir = getSpoolDir(config.get('spool-path'), stanza, control.systemId);
    await makeSpoolDir(dir);
    const { fetchWal } = await import('../get.js');
    const { openEachRepository } = await import('../../../repo/repository.js');
    const { selectedRepos } = await import('../../repo-select.js');
    const repos = await openEachRepository(selectedRepos(config), stanza);
    const queueMax = config.get('archive-get-queue-max');
    for (let from = first, round = 0; ; round++) {
      const queue = getQueue(from, control.walSegmentSize, queueMax);
      const present = await cleanSpool(dir, new Set(queue), { temps: round === 0 });
      const end = await fetchQueue(
        queue,
        present,
        async (segment, index) => {
          try {
            if (await fetchWal(repos, segment, join(dir, segment), true)) return true;
            // The end of the archive: recorded for the segment asked for, so its foreground answers at once.
            if (round === 0 && index === 0) await writeStatus(dir, segment, { kind: 'ok', code: 0 });
          } catch (error) {
            const code = isPgStashError(error) ? error.code : 122;
            log.error(`[${code}]: ${messageOf(error)}`);
            await writeStatus(dir, segment, { kind: 'error', code, message: messageOf(error) });
          }
          return false;
        },
        config.get('process-max'),
      );
      // A segment missing or failed ends the prefetch. Segments fetched past it (a worker ahead of the one
      // that found the gap) stay: each is the archive's content for its name.
      if (end < queue.length) return 0;
      const next = await waitForConsumption(dir, queue, control.walSegmentSize);
      if (next === undefined) return 0;
      from = next;
    }
  } finally {
    await lock.release();
  }
}

/**
 * Removes from the spool what is not in the queue (segments before its first, beyond it, and with `temps`, temp
 * files of a killed run: only before this process writes any) and answers left from before (the segment may have
 * been archived since); returns the queue's segments already spooled.
 */
async function cleanSpool(
  dir: string,
  inQueue: ReadonlySet<string>,
  options: { temps: boolean },
): Promise<Set<string>> {
  const present = new Set<string>();
  for (const file of await readdir(dir)) {
    if (file.startsWith('.')) {
      if (options.temps) await rm(join(dir, file), { force: true });
      continue;
    }
    const segment = file.replace(/\.(ok|error)$/, '');
    if (!inQueue.has(segment)) await rm(join(dir, file), { force: true });
    else if (segment === file) present.add(segment);
  }
  return present;
}

/**
 * Fetches the queue's segments not `present`, process-max at a time (`fetchOne` resolves false for a segment
 * missing or failed); resolves to the index of the first segment that was not fetched (queue.length: all were).
 */
async function fetchQueue(
  queue: readonly string[],
  present: ReadonlySet<string>,
  fetchOne: (segment: string, index: number) => Promise<boolean>,
  processMax: number,
): Promise<number> {
  let end = queue.length;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < end; index = next++) {
      const segment = queue[index] ?? '';
      if (present.has(segment)) continue;
      if (!(await fetchOne(segment, index))) end = Math.min(end, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(processMax, queue.length) }, worker));
  return end;
}

/**
 * Once the whole queue is spooled: waits until recovery takes a segment of it, and resolves to where the next
 * queue starts (the oldest still spooled, or the one after the queue); undefined when none was taken for
 * LINGER_MS. Lingering keeps the queue full while recovery replays, without a new process (Node start,
 * repository open) per refill; a restore_command for a segment outside the queue (another timeline) waits at
 * most that long before its foreground starts a background process of its own.
 */
async function waitForConsumption(
  dir: string,
  queue: readonly string[],
  walSegmentSize: number,
): Promise<string | undefined> {
  const inQueue = new Set(queue);
  const deadline = Date.now() + LINGER_MS;
  while (Date.now() < deadline) {
    const spooled = (await readdir(dir)).filter((name) => inQueue.has(name)).sort();
    if (spooled.length < queue.length) {
      const last = queue[queue.length - 1] ?? '';
      return spooled[0] ?? nextSegment(last, walSegmentSize);
    }
    await sleep(LINGER_POLL_MS);
  }
  return undefined;
}
