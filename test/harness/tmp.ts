// Temp directories for tests (pgstash-test-* under os.tmpdir()), owned by postgres by default and always removed.
import { readdirSync, rmSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresIds } from './postgres-user.js';
import { onProcessExit } from './reaper.js';

export interface TempDirOptions {
  /** Who owns the directory: 'postgres' (default) so servers and `runuser -u postgres` children can use it. */
  readonly owner?: 'postgres' | 'root';
  /** Directory mode; default 0o700, which PostgreSQL demands of a data directory. */
  readonly mode?: number;
  /** A word added to the name to tell directories apart when one is kept for debugging. */
  readonly label?: string;
}

/**
 * Every name starts with the creating process's id, so that a test file's leak check (leak-check.ts) sees only its
 * own directories, even while other test files, or other test runs, share the same TMPDIR.
 */
export function tempDirPrefix(pid: number = process.pid): string {
  return `pgstash-test-${pid}-`;
}

/** Directories this process created and has not removed yet, each with the unregistration of its exit cleanup. */
const live = new Map<string, () => void>();

/**
 * Set PGSTASH_TEST_KEEP=1 to keep temp dirs (and so data directories and server logs) after a run, to look
 * into a failure. Servers are stopped all the same.
 */
function keep(): boolean {
  return process.env['PGSTASH_TEST_KEEP'] === '1';
}

/**
 * Creates an empty directory `<os.tmpdir()>/pgstash-test-<pid>-<label>-XXXXXX`. A test removes it (removeTempDir,
 * removeAllTempDirs) before its file ends; the leak check fails a file that does not, and process exit removes
 * what an interrupted run left.
 */
export async function createTempDir(options: TempDirOptions = {}): Promise<string> {
  const label = options.label === undefined ? '' : `${options.label.replace(/[^A-Za-z0-9_.-]/g, '_')}-`;
  const path = await mkdtemp(join(tmpdir(), `${tempDirPrefix()}${label}`));
  await chmod(path, options.mode ?? 0o700);
  if ((options.owner ?? 'postgres') === 'postgres') {
    const { uid, gid } = postgresIds();
    await chown(path, uid, gid);
  }
  const unregister = onProcessExit('dir', () => {
    live.delete(path);
    if (keep()) process.stderr.write(`kept test directory '${path}'\n`);
    else rmSync(path, { recursive: true, force: true });
  });
  live.set(path, unregister);
  return path;
}

/** Removes a directory made by `createTempDir` (and everything in it); removing it twice is harmless. */
export async function removeTempDir(path: string): Promise<void> {
  const unregister = live.get(path);
  live.delete(path);
  unregister?.();
  if (keep()) {
    process.stderr.write(`kept test directory '${path}'\n`);
    return;
  }
  await rm(path, { recursive: true, force: true });
}

/** Removes every directory this process made and still holds (for afterAll). */
export async function removeAllTempDirs(): Promise<void> {
  for (const path of [...live.keys()]) await removeTempDir(path);
}

/** The names of this process's test directories still in os.tmpdir(), whoever was meant to remove them. */
export function leftTempDirs(): string[] {
  const prefix = tempDirPrefix();
  return readdirSync(tmpdir())
    .filter((name) => name.startsWith(prefix))
    .sort();
}

/** Whether test directories are kept on purpose (PGSTASH_TEST_KEEP=1), so that none counts as left behind. */
export function keepingTempDirs(): boolean {
  return keep();
}
