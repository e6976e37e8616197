// archive-push with archive-async=y, the background process: pushes every ready segment in parallel and writes
// each one's status in the spool (push-async.ts is the foreground, which waits for it).
import { readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoOf, isPgStashError, messageOf } from '../../../common/errors.js';
import { acquireLockUnlessHeld } from '../../../common/lock.js';
import { log } from '../../../common/log.js';
import type { CommandContext } from '../../context.js';
import { compressSettings } from '../../compress-settings.js';
import { openEachRepository, type Repository } from '../../../repo/repository.js';
import { pushWal } from '../push-wal.js';
import { openWalSource } from '../wal-source.js';
import { pushQueue, type ReadyWal } from './queue.js';
import { GLOBAL_STATUS, makeSpoolDir, readStatusOrClear, writeStatus } from './spool.js';

/** How long the background process waits for a new ready segment before it exits. */
const LINGER_MS = 2000;
/** Pause between two listings of pg_wal/archive_status while the background process waits. */
const LINGER_POLL_MS = 25;

/**
 * The background process: holds the stanza's archive lock (only one runs; when it is taken, exits at once), then
 * until no ready segment it has not tried has come for LINGER_MS: lists pg_wal/archive_status/*.ready, removes the statuses
 * of segments no longer ready (PostgreSQL has them as done), drops the whole queue beyond archive-push-queue-max,
 * and pushes the rest, process-max at a time, through the one push path (push-wal.ts), writing each
 * `.ok` only once the segment is durable in every repository.
 */
export async function pushBackground(context: CommandContext, spool: string): Promise<number> {
  const { config } = context;
  const stanza = config.require('stanza');
  const lock = await acquireLockUnlessHeld({ lockPath: config.get('lock-path'), stanza, type: 'archive' });
  if (lock === undefined) return 0;
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
