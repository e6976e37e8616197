// Tests for process locks: exclusion, stale locks of killed processes, release, and racing takeovers.
import { rejectionOf } from '../../harness/errors.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

import { transpile } from '../../harness/transpile.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { acquireLock } from '../../../src/common/lock.js';

/**
 * A child that takes the lock and prints the outcome as one JSON line. 'race' prints 'ready' and waits for a line
 * before acquiring; 'hold' and 'race' then keep running until stdin ends; 'exit' ends at once without releasing.
 */
const SCRIPT = `
import { createInterface } from 'node:readline';
import { acquireLock } from './src/common/lock.js';

const [lockPath, stanza, mode] = process.argv.slice(2);
const lines = mode === 'exit' ? undefined : createInterface({ input: process.stdin })[Symbol.asyncIterator]();
if (mode === 'race') {
  console.log('ready');
  await lines.next();
}
try {
  const lock = await acquireLock({ lockPath, stanza, type: 'backup' });
  console.log(JSON.stringify({ won: true, pid: process.pid, file: lock.file }));
} catch (error) {
  console.log(JSON.stringify({ won: false, pid: process.pid, code: error.code, message: error.message }));
}
if (lines !== undefined) {
  await lines.next();
  process.exit(0);
}
`;

interface Outcome {
  readonly won: boolean;
  readonly pid: number;
  readonly file?: string;
  readonly code?: number;
  readonly message?: string;
}

/** A lock child with its stdout read line by line. */
class Child {
  readonly process: ChildProcess;
  readonly #lines: AsyncIterator<string>;

  constructor(lockPath: string, stanza: string, mode: 'hold' | 'race' | 'exit') {
    this.process = spawn(process.execPath, [join(modules, 'script.mjs'), lockPath, stanza, mode], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.#lines = createInterface({ input: this.process.stdout! })[Symbol.asyncIterator]();
  }

  async line(): Promise<string> {
    const next = await this.#lines.next();
    if (next.done === true) throw new Error('child ended without output');
    return next.value;
  }

  async outcome(): Promise<Outcome> {
    return JSON.parse(await this.line()) as Outcome;
  }

  async exited(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) await once(this.process, 'exit');
  }
}

let base: string;
let modules: string;
let lockPath: string;
let testCount = 0;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'pgstash-lock-'));
  modules = join(base, 'modules');
  await transpile(modules, ['src/common/errors.ts', 'src/common/lock.ts']);
  await writeFile(join(modules, 'script.mjs'), SCRIPT);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

beforeEach(() => {
  lockPath = join(base, `locks-${++testCount}`, 'pgstash');
});

/** Leaves a lock behind the way kill -9 does: a child takes it and is killed. */
async function staleLock(stanza: string): Promise<number> {
  const holder = new Child(lockPath, stanza, 'hold');
  const outcome = await holder.outcome();
  expect(outcome.won).toBe(true);
  holder.process.kill('SIGKILL');
  await holder.exited();
  return outcome.pid;
}

describe('acquireLock', () => {
  it('creates the lock file with the pid, and the lock path 0770', async () => {
    const previousUmask = process.umask(0o077);
    try {
      const lock = await acquireLock({ lockPath, stanza: 'main', type: 'backup' });
      expect(lock.file).toBe(join(lockPath, 'main-backup.lock'));
      const content = JSON.parse(await readFile(lock.file, 'utf8')) as { pid: number; startedAt: string };
      expect(content.pid).toBe(process.pid);
      expect(Date.parse(content.startedAt)).toBeLessThanOrEqual(Date.now());
      expect(((await stat(lockPath)).mode & 0o777).toString(8)).toBe('770');
      expect(((await stat(dirname(lockPath))).mode & 0o777).toString(8)).toBe('770');
      expect(((await stat(lock.file)).mode & 0o777).toString(8)).toBe('640');
      expect(await readdir(lockPath)).toEqual(['main-backup.lock']);
      await lock.release();
    } finally {
      process.umask(previousUmask);
    }
  });

  it('refuses a second acquire while the lock is held, naming the file and the pid', async () => {
    const lock = await acquireLock({ lockPath, stanza: 'main', type: 'backup' });
    const error = await rejectionOf(acquireLock({ lockPath, stanza: 'main', type: 'backup' }));
    expect(error.code).toBe(50);
    expect(error.message).toBe(
      `unable to acquire lock on file '${join(lockPath, 'main-backup.lock')}': held by process ${process.pid}`,
    );
    expect(error.hint).toContain("stanza 'main'");
    // Another type or another stanza is a different lock.
    const archive = await acquireLock({ lockPath, stanza: 'main', type: 'archive' });
    const other = await acquireLock({ lockPath, stanza: 'other', type: 'backup' });
    await Promise.all([lock.release(), archive.release(), other.release()]);
    expect(await readdir(lockPath)).toEqual([]);
  });

  it('refuses a lock held by another live process', async () => {
    const holder = new Child(lockPath, 'main', 'hold');
    const outcome = await holder.outcome();
    try {
      const error = await rejectionOf(acquireLock({ lockPath, stanza: 'main', type: 'backup' }));
      expect(error.code).toBe(50);
      expect(error.message).toContain(`held by process ${outcome.pid}`);
    } finally {
      holder.process.stdin?.end();
      await holder.exited();
    }
    // The holder released it when it exited.
    expect(await readdir(lockPath)).toEqual([]);
  });

  it('releases the lock file, and can be taken again', async () => {
    const lock = await acquireLock({ lockPath, stanza: 'main', type: 'backup' });
    const listeners = process.listenerCount('exit');
    await lock.release();
    expect(process.listenerCount('exit')).toBe(listeners - 1);
    await lock.release();
    expect(await readdir(lockPath)).toEqual([]);
    const again = await acquireLock({ lockPath, stanza: 'main', type: 'backup' });
    await again.release();
  });

  it('does not remove a lock that is no longer its own', async () => {
    const lock = await acquireLock({ lockPath, stanza: 'main', type: 'backup' });
    const foreign = `${JSON.stringify({ pid: 1, startTicks: null, startedAt: '', token: 'ffffffffffffffff' })}\n`;
    await writeFile(lock.file, foreign);
    await lock.release();
    expect(await readFile(lock.file, 'utf8')).toBe(foreign);
  });

  it('removes the lock when the process exits without releasing it', async () => {
    const child = new Child(lockPath, 'main', 'exit');
    expect((await child.outcome()).won).toBe(true);
    await child.exited();
    expect(child.process.exitCode).toBe(0);
    expect(await readdir(lockPath)).toEqual([]);
  });

  it('takes over the stale lock of a killed process', async () => {
    const deadPid = await staleLock('main');
    const file = join(lockPath, 'main-backup.lock');
    expect((JSON.parse(await readFile(file, 'utf8')) as { pid: number }).pid).toBe(deadPid);
    const lock = await acquireLock({ lockPath, stanza: 'main', type: 'backup' });
    expect((JSON.parse(await readFile(file, 'utf8')) as { pid: number }).pid).toBe(process.pid);
    await lock.release();
    expect(await readdir(lockPath)).toEqual([]);
  });

  it('removes what processes killed while taking the lock left beside it, and nothing of a live one', async () => {
    await staleLock('main');
    const file = join(lockPath, 'main-backup.lock');
    const dead = await readFile(file, 'utf8');
    const live = `${JSON.stringify({ pid: process.pid, startTicks: null, startedAt: '', token: '1'.repeat(16) })}\n`;
    await writeFile(`${file}.${'2'.repeat(16)}.tmp`, dead);
    await writeFile(`${file}.${'3'.repeat(16)}.break`, dead);
    await writeFile(`${file}.${'4'.repeat(16)}.tmp`, live);
    // Created, not written yet: a process between its two first steps.
    await writeFile(`${file}.${'5'.repeat(16)}.tmp`, '');
    const lock = await acquireLock({ lockPath, stanza: 'main', type: 'backup' });
    expect((await readdir(lockPath)).sort()).toEqual([
      'main-backup.lock',
      `main-backup.lock.${'4'.repeat(16)}.tmp`,
      `main-backup.lock.${'5'.repeat(16)}.tmp`,
    ]);
    await lock.release();
  });

  it("never takes another host's lock for stale: its pid means nothing here", async () => {
    await mkdir(lockPath, { recursive: true });
    const file = join(lockPath, 'main-backup.lock');
    const owner = {
      pid: 2 ** 22 + 1,
      startTicks: null,
      startedAt: '',
      token: '6'.repeat(16),
      host: 'elsewhere',
    };
    await writeFile(file, `${JSON.stringify(owner)}\n`);
    const error = await rejectionOf(acquireLock({ lockPath, stanza: 'main', type: 'backup' }));
    expect(error.code).toBe(50);
    expect(error.message).toBe(
      `unable to acquire lock on file '${file}': held by process ${owner.pid} on host 'elsewhere'`,
    );
    // Without a host (written by an older version), the same lock is this host's, and stale.
    await writeFile(file, `${JSON.stringify({ ...owner, host: undefined })}\n`);
    const lock = await acquireLock({ lockPath, stanza: 'main', type: 'backup' });
    await lock.release();
  });

  it('takes over a lock whose pid now belongs to another process (pid reuse)', async () => {
    const lock = await acquireLock({ lockPath, stanza: 'main', type: 'backup' });
    const content = JSON.parse(await readFile(lock.file, 'utf8')) as { startTicks: number | null };
    expect(typeof content.startTicks).toBe('number');
    // Same (live) pid, different start time: the process that wrote the lock is gone.
    const reused = {
      pid: process.pid,
      startTicks: (content.startTicks ?? 0) - 1,
      startedAt: '',
      token: '0'.repeat(16),
    };
    await writeFile(lock.file, `${JSON.stringify(reused)}\n`);
    const taken = await acquireLock({ lockPath, stanza: 'main', type: 'backup' });
    expect(await readFile(taken.file, 'utf8')).not.toContain('0'.repeat(16));
    await Promise.all([lock.release(), taken.release()]);
    expect(await readdir(lockPath)).toEqual([]);
  });

  it('refuses a lock file with invalid content', async () => {
    await mkdir(lockPath, { recursive: true });
    const file = join(lockPath, 'main-backup.lock');
    await writeFile(file, 'not json');
    const error = await rejectionOf(acquireLock({ lockPath, stanza: 'main', type: 'backup' }));
    expect(error.code).toBe(50);
    expect(error.message).toBe(`unable to acquire lock on file '${file}': invalid content`);
    expect(await readdir(lockPath)).toEqual(['main-backup.lock']);
  });

  it('rejects a stanza that cannot name a file', async () => {
    expect((await rejectionOf(acquireLock({ lockPath, stanza: '../x', type: 'backup' }))).kind).toBe(
      'paramInvalid',
    );
  });

  it('lets exactly one of several racing processes take over a stale lock', async () => {
    for (let round = 0; round < 6; round++) {
      await staleLock('race');
      const children = Array.from({ length: 4 }, () => new Child(lockPath, 'race', 'race'));
      try {
        for (const child of children) expect(await child.line()).toBe('ready');
        for (const child of children) child.process.stdin?.write('go\n');
        const outcomes = await Promise.all(children.map((child) => child.outcome()));
        const winners = outcomes.filter((outcome) => outcome.won);
        expect(winners).toHaveLength(1);
        for (const loser of outcomes.filter((outcome) => !outcome.won)) {
          expect(loser.code).toBe(50);
          expect(loser.message).toContain(`held by process ${winners[0]?.pid}`);
        }
        const content = JSON.parse(await readFile(join(lockPath, 'race-backup.lock'), 'utf8')) as {
          pid: number;
        };
        expect(content.pid).toBe(winners[0]?.pid);
      } finally {
        for (const child of children) child.process.stdin?.end();
        await Promise.all(children.map((child) => child.exited()));
      }
      // The winner released on exit; no temporary, swap or break file is left behind.
      expect(await readdir(lockPath)).toEqual([]);
    }
  });
});
