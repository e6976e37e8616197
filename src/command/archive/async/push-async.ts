// archive-push with archive-async=y: the foreground waits for its segment's status in the spool; the background
// process pushes every ready segment in parallel and writes those statuses.
import { readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoOf, isPgStashError, messageOf, PgStashError } from '../../../common/errors.js';
import { acquireLock, type Lock } from '../../../common/lock.js';
import { log } from '../../../common/log.js';
import { readControlFile } from '../../../postgres/control.js';
import type { CommandContext } from '../../context.js';
import type { Repository } from '../../../repo/repository.js';
import { requireWalFileName } from '../wal-source.js';
import { backgroundRunning, isBackground, startBackground } from './launch.js';
import { pushQueue, type ReadyWal } from './queue.js';
import {
  clearStatus,
  GLOBAL_STATUS,
  makeSpoolDir,
  pushSpoolDir,
  readStatusOrClear,
  statusError,
  writeStatus,
} from './spool.js';

/**
 * Pause between looks at the spool: short at first (the answer is often there at once), then up to this. PostgreSQL
 * archives one segment at a time, so each millisecond here is a millisecond of the archiver's per-segment cycle.
 */
const POLL_MAX_MS = 20;
/** How long the background process waits for a new ready segment before it exits. */
const LINGER_MS = 2000;
/** Pause between two listings of pg_wal/archive_status while the background process waits. */
const LINGER_POLL_MS = 25;
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
  return isBackground() ? pushBackground(context, spool) : pushForeground(context, spool);
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
      startBackground(context);
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

/**
 * The background process: holds the stanza's archive lock (only one runs; when it is taken, exits at once), then
 * until no ready segment it has not tried has come for LINGER_MS: lists pg_wal/archive_status/*.ready, removes the statuses
 * of segments no longer ready (PostgreSQL has them as done), drops the whole queue beyond archive-push-queue-max,
 * and pushes the rest, process-max at a time, through the one push path (push.ts pushWal), writing each
 * `.ok` only once the segment is durable in every repository.
 */
async function pushBackground(context: CommandContext, spool: string): Promise<number> {
  const { config } = context;
  const stanza = config.require('stanza');
  let lock: Lock;
  try {
    lock = await acquireLock({ lockPath: config.get('lock-path'), stanza, type: 'archive' });
  } catch (error) {
    if (isPgStashError(error, 'lockAcquire')) return 0;
    throw error;
  }
  try {
    await makeSpoolDir(spool);
    await pushReady(context, spool, dirname(resolve(config.args[0] ?? '')));
    return 0;
  } catch (error) {
    await writeStatus(spool, GLOBAL_STATUS, {
      kind: 'error',
      code: isPgStashError(error) ? error.code : 122,
      message: messageOf(error),
    });
    throw error;
  } finally {
    await lock.release();
  }
}

async function pushReady(context: CommandContext, spool: string, pgWal: string): Promise<void> {
  const { config } = context;
  const { pushWal } = await import('../push.js');
  const { openEachRepository } = await import('../../../repo/repository.js');
  const { compressSettings } = await import('../../compress-settings.js');
  const { openWalSource } = await import('../wal-source.js');
  const repos = await openEachRepository(config.repos, config.require('stanza'));
  const compress = (repo: Repository) => compressSettings(config, repo.options);
  const queueMax = config.get('archive-push-queue-max');
  const processMax = config.get('process-max');
  // Segments taken (pushed, failed or dropped) by this process: it never retries one; a new process does.
  const tried = new Set<string>();
  const queue: ReadyWal[] = [];
  let firstListing = true;
  let listing: Promise<void> | undefined;

  /** Lists the ready segments and queues those not tried and without `.ok`; drops all beyond queue-max. */
  const list = async (): Promise<void> => {
    const ready = await readyWal(pgWal);
    // Temp files of a killed process are removed only before any worker of this one writes a status.
    await removeStatusesNotReady(spool, new Set(ready), { temps: firstListing });
    firstListing = false;
    const todo: ReadyWal[] = [];
    for (const name of ready) {
      if (tried.has(name) || (await readStatusOrClear(spool, name))?.kind === 'ok') continue;
      const size = await stat(join(pgWal, name)).then(
        (stats) => stats.size,
        () => undefined,
      );
      if (size !== undefined) todo.push({ name, size });
    }
    // What waits is what is queued and not yet taken as well as what is new.
    const { push, drop, waitingBytes } = pushQueue([...queue.splice(0), ...todo], queueMax);
    if (drop.length > 0) {
      log.error(
        `dropped WAL file(s) ${drop[0]?.name ?? ''}...${drop[drop.length - 1]?.name ?? ''} (${drop.length}) ` +
          `because archive-push-queue-max ${String(queueMax)} was exceeded (${waitingBytes} bytes waiting): ` +
          'they are NOT in the archive, point-in-time recovery across them is impossible: take a new backup',
      );
      for (const wal of drop) {
        tried.add(wal.name);
        await writeStatus(spool, wal.name, {
          kind: 'ok',
          code: 0,
          message: `dropped WAL file '${wal.name}' because archive-push-queue-max ${String(queueMax)} was exceeded`,
        });
      }
    }
    for (const wal of push) tried.add(wal.name);
    queue.push(...push);
  };
  /** One listing at a time, shared by the workers that find the queue empty. */
  const refill = (): Promise<void> =>
    (listing ??= list().finally(() => {
      listing = undefined;
    }));
  /**
   * The next segment to push; undefined once none has come for LINGER_MS. Under a steady load PostgreSQL marks a
   * segment ready every few hundred milliseconds: lingering keeps process-max pushes in flight without a new
   * process (Node start, repository open) per burst, which held the archiver up for 0.6-1.8 s each time.
   */
  const take = async (): Promise<ReadyWal | undefined> => {
    const idleUntil = Date.now() + LINGER_MS;
    for (;;) {
      const wal = queue.shift();
      if (wal !== undefined) return wal;
      await refill();
      if (queue.length > 0) continue;
      if (Date.now() >= idleUntil) return undefined;
      await sleep(LINGER_POLL_MS);
    }
  };
  const worker = async (): Promise<void> => {
    for (let wal = await take(); wal !== undefined; wal = await take()) {
      try {
        await pushWal(repos, await openWalSource(join(pgWal, wal.name)), compress);
        await writeStatus(spool, wal.name, { kind: 'ok', code: 0 });
        log.detail(`pushed WAL file '${wal.name}' to the archive (async)`);
      } catch (error) {
        if (errnoOf(error) === 'ENOENT' || isPgStashError(error, 'fileMissing')) continue;
        const code = isPgStashError(error) ? error.code : 122;
        log.error(`[${code}]: ${messageOf(error)}`);
        await writeStatus(spool, wal.name, { kind: 'error', code, message: messageOf(error) });
      }
    }
  };
  // Every worker takes the next segment as soon as it is done with one: process-max pushes stay in flight.
  await Promise.all(Array.from({ length: processMax }, worker));
}

/** The segments PostgreSQL has marked ready to archive (pg_wal/archive_status/<name>.ready), oldest first. */
async function readyWal(pgWal: string): Promise<string[]> {
  const names = await readdir(join(pgWal, 'archive_status'));
  return names
    .filter((name) => name.endsWith('.ready'))
    .map((name) => name.slice(0, -'.ready'.length))
    .sort();
}

/**
 * Statuses of segments PostgreSQL no longer lists as ready: it has taken their answer, they are done. And, with
 * `temps`, temp files of a status being written when a background process was killed (only the lock holder
 * writes them, and it asks for this before its workers write any).
 */
async function removeStatusesNotReady(
  spool: string,
  ready: ReadonlySet<string>,
  options: { temps: boolean },
): Promise<void> {
  for (const file of await readdir(spool)) {
    if (file.startsWith('.') && file.endsWith('.tmp')) {
      if (options.temps) await rm(join(spool, file), { force: true });
      continue;
    }
    const match = /^(.+)\.(ok|error)$/.exec(file);
    if (match === null || match[1] === GLOBAL_STATUS || ready.has(match[1] ?? '')) continue;
    await rm(join(spool, file), { force: true });
  }
}
