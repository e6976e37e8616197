// Process locks: in lock-path, one backup-type (or one archive-type) command per stanza; any lock file (restore).
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { chmod, link, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { basename, dirname, join } from 'node:path';

import { errnoOf, fail, isPgStashError, PgStashError, reasonOf } from './errors.js';

/**
 * 'backup' serialises backup, expire and stanza-create/upgrade/delete; 'archive' serialises async archive-push's
 * background process, 'archive-get' async archive-get's.
 */
export type LockType = 'archive' | 'archive-get' | 'backup';

export interface LockOptions {
  /** Directory of lock files (lock-path), created 0770 if missing. */
  readonly lockPath: string;
  readonly stanza: string;
  readonly type: LockType;
}

/** Who holds a lock file: the content of the file, one JSON line. */
interface LockOwner {
  readonly pid: number;
  /** Start time of the process in clock ticks since boot (Linux /proc), to tell a reused pid apart; or null. */
  readonly startTicks: number | null;
  /** Wall-clock start of the holding process, for people reading the file. */
  readonly startedAt: string;
  /** Unique per acquisition: release and takeover compare it, never just the pid. */
  readonly token: string;
  /**
   * The host the process runs on. A lock file on shared storage may be another host's: its pid means nothing
   * here, so such a lock is never taken for stale. Absent in lock files of older versions (taken as this host).
   */
  readonly host?: string;
}

const LOCK_PATH_MODE = 0o770;
const LOCK_FILE_MODE = 0o640;
/** Rounds of "the lock changed under us, look again" before giving up; each round needs another process's step. */
const MAX_ROUNDS = 100;
/** Pause before looking again at a lock that another process is taking over (a few file operations). */
const TAKEOVER_WAIT_MS = 10;
/** What follows `<lock file>.` in the names used while taking it (a break file has its own, nested). */
const PRIVATE_NAME = /^(?:[0-9a-f]{16}\.break\.)*[0-9a-f]{16}\.(?:tmp|break|swap)$/;
/** A private name still empty after this long belongs to a process killed before it wrote it. */
const EMPTY_LEFTOVER_MS = 60_000;

/** A held lock; release it when the command ends (a process 'exit' handler also removes it). */
export class Lock {
  readonly file: string;
  readonly #token: string;
  #released = false;
  readonly #onExit = (): void => releaseSync(this.file, this.#token);

  constructor(file: string, token: string) {
    this.file = file;
    this.#token = token;
    process.on('exit', this.#onExit);
  }

  /** Removes the lock file if it is still this lock's. Releasing twice is harmless. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    process.off('exit', this.#onExit);
    const owner = await readOwner(this.file);
    // Never remove a lock that is no longer ours (it was taken over, which only happens if we looked dead).
    if (owner === undefined || owner === 'invalid' || owner.token !== this.#token) return;
    try {
      await unlink(this.file);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw lockError(this.file, 'unable to remove', error);
    }
  }
}

/**
 * Takes `<lockPath>/<stanza>-<type>.lock`, or fails with lockAcquire (50) naming the process that holds it.
 *
 * A lock file appears only whole: it is written under a private name and hard-linked into place (link() fails if
 * the name exists). A lock whose process is gone (kill -9, a crash, a reboot) is stale and is taken over. Two
 * processes may find the same stale lock at once, so taking it over is itself locked: the taker must first
 * create `<lock>.<token of the stale owner>.break` by the same rules (recursively, should a taker die too), then
 * checks the lock still has the stale token, then rename()s its own file over it. Only the holder of the break
 * file can replace that stale lock, and nothing else can change a lock file that exists, so exactly one wins.
 */
export async function acquireLock(options: LockOptions): Promise<Lock> {
  const { lockPath, stanza, type } = options;
  if (stanza === '' || stanza.includes('/') || stanza.startsWith('.')) {
    fail('paramInvalid', `stanza '${stanza}' cannot name a lock file`);
  }
  await makeLockPath(lockPath);
  return acquireLockFile(join(lockPath, `${stanza}-${type}.lock`), {
    heldHint: `another pgstash ${type} command is running for stanza '${stanza}': wait for it to finish`,
    invalidHint: 'if no pgstash process is running for this stanza, remove the file',
  });
}

/**
 * acquireLock for a background process (async archive-push, archive-get prefetch): undefined when another process
 * holds the lock, which means another background process of the same kind runs and does the work.
 */
export async function acquireLockUnlessHeld(options: LockOptions): Promise<Lock | undefined> {
  try {
    return await acquireLock(options);
  } catch (error) {
    if (isPgStashError(error, 'lockAcquire')) return undefined;
    throw error;
  }
}

/**
 * Takes the lock file `file` (its directory exists), by the rules of acquireLock, or fails with lockAcquire (50)
 * naming the process that holds it and giving `heldHint`. While the lock is being taken, names beginning with
 * `<file>.` appear beside it for a moment (see isLockFileName).
 */
export async function acquireLockFile(
  file: string,
  hints: { readonly heldHint: string; readonly invalidHint: string },
): Promise<Lock> {
  const owner: LockOwner = {
    pid: process.pid,
    startTicks: processStat(process.pid)?.startTicks ?? null,
    startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
    token: randomBytes(8).toString('hex'),
    host: hostname(),
  };
  const temp = `${file}.${owner.token}.tmp`;
  try {
    const handle = await open(temp, 'wx', LOCK_FILE_MODE);
    try {
      await handle.chmod(LOCK_FILE_MODE);
      await handle.writeFile(`${JSON.stringify(owner)}\n`);
    } finally {
      await handle.close();
    }
  } catch (error) {
    // In a lock path this user may not enter, removing the temp name fails too (EACCES, which `force` does not
    // ignore): that must not hide the reason the lock could not be written.
    await rm(temp, { force: true }).catch(() => undefined);
    throw lockError(file, 'unable to write', error);
  }

  let outcome: Outcome;
  try {
    outcome = await claim(file, temp, owner.token);
  } finally {
    // Linked or renamed into place, or lost: the private name is no longer needed either way.
    await rm(temp, { force: true });
  }
  if (outcome.won) {
    await removeLeftovers(file);
    return new Lock(file, owner.token);
  }

  const holder = outcome.holder;
  if (holder === 'invalid') {
    fail('lockAcquire', `unable to acquire lock on file '${file}': invalid content`, {
      hint: hints.invalidHint,
    });
  }
  const where = isOtherHost(holder) ? ` on host '${holder.host ?? ''}'` : '';
  fail('lockAcquire', `unable to acquire lock on file '${file}': held by process ${holder.pid}${where}`, {
    hint: hints.heldHint,
  });
}

/** Whether `name` (in the lock file's directory) is the lock file `lockName` or one of the names used to take it. */
export function isLockFileName(name: string, lockName: string): boolean {
  return name === lockName || name.startsWith(`${lockName}.`);
}

type Outcome = { readonly won: true } | { readonly won: false; readonly holder: LockOwner | 'invalid' };

/** Puts the complete file `temp` at `file` unless a live process holds it; see acquireLock. */
async function claim(file: string, temp: string, token: string): Promise<Outcome> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    try {
      await link(temp, file);
      return { won: true };
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw lockError(file, 'unable to create', error);
    }

    const holder = await readOwner(file);
    if (holder === undefined) continue; // released meanwhile: try again
    if (holder === 'invalid' || isAlive(holder)) return { won: false, holder };

    const breakFile = `${file}.${holder.token}.break`;
    const taking = await claim(breakFile, temp, token);
    if (!taking.won) {
      // Someone else is taking this stale lock over right now. They may yet lose to an earlier taker that has
      // already replaced the lock (and removed its break file), so look again once they are done and report
      // whoever holds the lock then, not the taker.
      await sleep(TAKEOVER_WAIT_MS);
      continue;
    }
    try {
      const current = await readOwner(file);
      if (current !== undefined && current !== 'invalid' && current.token === holder.token) {
        await replace(file, temp, token);
        return { won: true };
      }
    } finally {
      const breaker = await readOwner(breakFile);
      if (breaker !== undefined && breaker !== 'invalid' && breaker.token === token)
        await rm(breakFile, { force: true });
    }
  }
  return fail('lockAcquire', `unable to acquire lock on file '${file}': it keeps changing`);
}

/**
 * Removes the private names (`<file>.<token>.tmp`, `.break`, `.swap`) that processes killed while taking the lock
 * left beside it, so they do not pile up (in a restored data directory, pg_verifybackup would name them). Each holds
 * its process's owner line, like the lock file: only those of processes that are gone go. Best effort.
 */
async function removeLeftovers(file: string): Promise<void> {
  const directory = dirname(file);
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return;
  }
  const prefix = `${basename(file)}.`;
  for (const name of names) {
    if (!name.startsWith(prefix) || !PRIVATE_NAME.test(name.slice(prefix.length))) continue;
    const path = join(directory, name);
    try {
      const owner = await readOwner(path);
      if (owner === undefined) continue;
      const gone =
        owner === 'invalid' ? Date.now() - (await stat(path)).mtimeMs > EMPTY_LEFTOVER_MS : !isAlive(owner);
      if (gone) await rm(path, { force: true });
    } catch {
      // A leftover only takes a name; the lock is ours either way.
    }
  }
}

/**
 * Atomically puts our content over `file`. The rename goes through a fresh link, not `temp` itself, because a
 * nested claim may still need `temp` (and acquireLock removes it at the end).
 */
async function replace(file: string, temp: string, token: string): Promise<void> {
  const staging = `${file}.${token}.swap`;
  try {
    await link(temp, staging);
    await rename(staging, file);
  } catch (error) {
    throw lockError(file, 'unable to replace stale', error);
  } finally {
    await rm(staging, { force: true });
  }
}

/**
 * Whether lock file `file` is held by a live process (of another host: taken as live); false when it is missing,
 * invalid or stale. For marker files that many processes hold at once, each under its own name (read-marker.ts).
 */
export async function isHeld(file: string): Promise<boolean> {
  const owner = await readOwner(file).catch(() => undefined);
  return owner !== undefined && owner !== 'invalid' && isAlive(owner);
}

/**
 * The process holding the stanza's lock of `type`, when a live one does (a lock of another host is taken as live,
 * see isAlive); undefined when the lock is free, stale (its process is gone: kill -9) or unreadable.
 */
export async function lockHolder(
  options: LockOptions,
): Promise<{ readonly pid: number; readonly host: string | undefined } | undefined> {
  const file = join(options.lockPath, `${options.stanza}-${options.type}.lock`);
  const owner = await readOwner(file).catch(() => undefined);
  if (owner === undefined || owner === 'invalid' || !isAlive(owner)) return undefined;
  return { pid: owner.pid, host: owner.host };
}

/** The owner recorded in a lock file; undefined if the file does not exist. */
async function readOwner(file: string): Promise<LockOwner | 'invalid' | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw lockError(file, 'unable to read', error);
  }
  return parseOwner(text);
}

function parseOwner(text: string): LockOwner | 'invalid' {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    const valid =
      typeof value.pid === 'number' &&
      Number.isSafeInteger(value.pid) &&
      value.pid > 0 &&
      (value.startTicks === null || typeof value.startTicks === 'number') &&
      typeof value.token === 'string' &&
      /^[0-9a-f]{16}$/.test(value.token) &&
      (value.host === undefined || typeof value.host === 'string');
    return valid ? (value as LockOwner) : 'invalid';
  } catch {
    return 'invalid';
  }
}

/** Whether the process that wrote `owner` still runs (not merely a process with the same pid). */
function isAlive(owner: LockOwner): boolean {
  if (isOtherHost(owner)) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    if (errnoOf(error) !== 'EPERM') return false;
  }
  const current = processStat(owner.pid);
  if (current === undefined) {
    // Without /proc (not Linux) the signal test is all there is; with /proc, the process has just gone.
    return processStat(process.pid) === undefined;
  }
  if (current.state === 'Z' || current.state === 'X') return false;
  return owner.startTicks === null || current.startTicks === null || owner.startTicks === current.startTicks;
}

function isOtherHost(owner: LockOwner): boolean {
  return owner.host !== undefined && owner.host !== hostname();
}

/** State and start time (field 22) from /proc/<pid>/stat; undefined where there is no such file. */
function processStat(pid: number): { state: string; startTicks: number | null } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: fields 3.. follow the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const startTicks = Number(fields[19]);
  return { state: fields[0] ?? '', startTicks: Number.isSafeInteger(startTicks) ? startTicks : null };
}

/** Synchronous release for the process 'exit' handler, where nothing asynchronous runs any more. */
function releaseSync(file: string, token: string): void {
  try {
    if ((parseOwner(readFileSync(file, 'utf8')) as Partial<LockOwner>).token === token) unlinkSync(file);
  } catch {
    // Best effort while exiting: a lock left behind is stale and will be taken over.
  }
}

async function makeLockPath(path: string): Promise<void> {
  try {
    const first = await mkdir(path, { recursive: true, mode: LOCK_PATH_MODE });
    if (first === undefined) return;
    // mkdir's mode is reduced by the umask: set it on each directory created.
    for (let current = path; ; current = dirname(current)) {
      await chmod(current, LOCK_PATH_MODE);
      if (current === first || dirname(current) === current) break;
    }
  } catch (error) {
    fail('pathCreate', `unable to create lock path '${path}': ${reasonOf(error)}`, { cause: error });
  }
}

function lockError(file: string, action: string, error: unknown): PgStashError {
  if (error instanceof PgStashError) return error;
  const code = errnoOf(error);
  return new PgStashError('lockAcquire', `${action} lock file '${file}': ${reasonOf(error)}`, {
    cause: error,
    ...(code === 'EACCES' || code === 'EPERM'
      ? {
          hint:
            `the lock path '${dirname(file)}' must be writable by the user running pgstash ` +
            `(created by another user, e.g. root?): fix its owner or set lock-path`,
        }
      : {}),
  });
}
