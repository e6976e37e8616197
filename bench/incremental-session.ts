// One tool with a fresh repository in an incremental scenario: its backups, restores and expire, measured.
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PgCluster } from '../test/harness/cluster.js';
import { processAlive } from '../test/harness/exec.js';
import { mkdirForPostgres } from '../test/harness/postgres-user.js';
import { createTempDir, removeTempDir } from '../test/harness/tmp.js';
import { newestBackup, type BackupFigures } from './backup-info.js';
import { withArchiveTo } from './bench-cluster.js';
import { duBytes } from './disk-usage.js';
import { measure, measureOk, type Measurement } from './measure.js';
import type { BenchCompress } from './settings.js';
import type { Tool, ToolRepo } from './tools.js';

/** process-max of every backup and restore in the incremental scenarios (issue 14 measures with 2). */
export const INCREMENTAL_PROCESS_MAX = 2;

export interface BackupStep {
  readonly measurement: Measurement;
  /** The backup as the tool's own `info --output=json` reports it. */
  readonly figures: BackupFigures;
  /** How much `du -sb` of the stanza's backup directory grew during the backup (where the kill point of resume is measured). */
  readonly repoGrowth: number;
}

export interface KilledBackup {
  /** Bytes the backup directory had grown by when the tool was killed. */
  readonly grownAtKill: number;
  /** The backup finished before it reached the kill point (nothing was killed). */
  readonly finished: boolean;
}

export class ToolSession {
  readonly tool: Tool;
  readonly repo: ToolRepo;
  readonly #cluster: PgCluster;
  readonly #scratch: string;
  readonly #dir: string;
  #restoreDirs = 0;

  private constructor(tool: Tool, repo: ToolRepo, cluster: PgCluster, scratch: string, dir: string) {
    this.tool = tool;
    this.repo = repo;
    this.#cluster = cluster;
    this.#scratch = scratch;
    this.#dir = dir;
  }

  /** A fresh repository with its stanza, in a temp dir of its own (removed by `close`). */
  static async open(
    tool: Tool,
    options: { cluster: PgCluster; scratch: string; compress: BenchCompress; block: boolean; label: string },
  ): Promise<ToolSession> {
    const dir = await createTempDir({ label: `bench-${options.label}-${tool.name}-${options.compress}` });
    try {
      const repo = await tool.prepare(dir, options);
      await measureOk(repo.argv(['stanza-create']), { scratchDir: options.scratch });
      return new ToolSession(tool, repo, options.cluster, options.scratch, dir);
    } catch (error) {
      await removeTempDir(dir);
      throw error;
    }
  }

  async close(): Promise<void> {
    await removeTempDir(this.#dir);
  }

  /** A backup of `type` with --start-fast, archiving into this repository, and the tool's report of it. */
  async backup(type: 'full' | 'incr'): Promise<BackupStep> {
    const before = await duBytes(this.repo.backupRoot);
    const measurement = await withArchiveTo(this.#cluster, this.repo.archiveCommand, () =>
      measureOk(this.repo.argv(this.#backupArgs(type)), { scratchDir: this.#scratch }),
    );
    const repoGrowth = (await duBytes(this.repo.backupRoot)) - before;
    return { measurement, figures: await this.newest(), repoGrowth };
  }

  /**
   * A full backup killed with SIGKILL (the tool's main process, as `kill -9 <pid>` would) once the backup
   * directory has grown by `killAtBytes`. Watching the repository works the same for both tools.
   */
  async killedFull(killAtBytes: number): Promise<KilledBackup> {
    const before = await duBytes(this.repo.backupRoot);
    let timePid: number | undefined;
    let grownAtKill = 0;
    let killed = false;
    let workers: number[] = [];
    const result = await withArchiveTo(this.#cluster, this.repo.archiveCommand, async () => {
      const running = measure(this.repo.argv(this.#backupArgs('full')), {
        scratchDir: this.#scratch,
        onSpawn: (pid) => (timePid = pid),
      });
      let done = false;
      const finished = (): void => {
        done = true;
      };
      // Both outcomes end the watch; the rejection itself is seen by `return running` below.
      running.then(finished, finished);
      while (!done) {
        await sleep(50);
        const grown = (await duBytes(this.repo.backupRoot).catch(() => before)) - before;
        const toolPid = timePid === undefined ? undefined : await childOf(timePid);
        if (grown >= killAtBytes && toolPid !== undefined && !done) {
          workers = await descendants(toolPid);
          process.kill(toolPid, 'SIGKILL');
          grownAtKill = grown;
          killed = true;
          break;
        }
      }
      return running;
    });
    if (killed && result.code === 0) throw new Error(`${this.tool.label} backup exited 0 after SIGKILL`);
    if (!killed && result.code !== 0)
      throw new Error(`${this.tool.label} backup failed before the kill point:\n${result.stderr}`);
    // pgBackRest's worker processes outlive their parent until they notice it is gone, and hold the stanza's
    // lock until then: the next backup waits for them, as an operator would after kill -9.
    await waitGone(workers, `${this.tool.label} worker processes`);
    return { grownAtKill, finished: !killed };
  }

  /** Restores backup `set` (default: the newest) into a new empty directory; returns the timing and the directory. */
  async restoreNew(set?: string): Promise<{ measurement: Measurement; dir: string }> {
    const dir = await mkdirForPostgres(join(this.#dir, `restore-${String(++this.#restoreDirs)}`), 0o700);
    const measurement = await this.#restore(dir, set === undefined ? [] : [`--set=${set}`]);
    return { measurement, dir };
  }

  /** `restore --delta` (with `force`: `--delta --force`) of the newest backup into a directory holding an earlier restore. */
  async restoreDelta(dir: string, options: { force?: boolean } = {}): Promise<Measurement> {
    return this.#restore(dir, options.force === true ? ['--delta', '--force'] : ['--delta']);
  }

  /** expire with the given retention of fulls (on the command line, the same option for both tools). */
  async expire(retentionFull: number): Promise<Measurement> {
    return measureOk(this.repo.argv(['expire', `--repo1-retention-full=${String(retentionFull)}`]), {
      scratchDir: this.#scratch,
    });
  }

  /** The newest backup as `info --output=json` reports it. */
  async newest(): Promise<BackupFigures> {
    const info = await measureOk(this.repo.argv(['info', '--output=json']), { scratchDir: this.#scratch });
    return newestBackup(info.stdout);
  }

  /** Removes a restore directory (restores of a large cluster add up on disk). */
  async removeRestore(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
  }

  #backupArgs(type: 'full' | 'incr'): string[] {
    return ['backup', `--type=${type}`, '--start-fast', `--process-max=${String(INCREMENTAL_PROCESS_MAX)}`];
  }

  async #restore(dir: string, extra: readonly string[]): Promise<Measurement> {
    const measurement = await measureOk(
      this.repo.argv([
        'restore',
        `--pg1-path=${dir}`,
        `--process-max=${String(INCREMENTAL_PROCESS_MAX)}`,
        ...extra,
      ]),
      { scratchDir: this.#scratch },
    );
    const restored = await duBytes(dir);
    const databaseBytes = Number(
      await this.#cluster.psql('select sum(pg_database_size(oid)) from pg_database'),
    );
    if (!existsSync(join(dir, 'PG_VERSION')) || restored < databaseBytes * 0.9) {
      throw new Error(
        `${this.tool.label} restore into '${dir}' looks incomplete: ${String(restored)} bytes ` +
          `for ${String(databaseBytes)} bytes of databases`,
      );
    }
    return measurement;
  }
}

/** The one child of process `pid` (GNU time runs exactly one), or undefined before it has started it. */
async function childOf(pid: number): Promise<number | undefined> {
  try {
    const text = await readFile(`/proc/${String(pid)}/task/${String(pid)}/children`, 'utf8');
    const first = text.trim().split(/\s+/)[0];
    return first === undefined || first === '' ? undefined : Number(first);
  } catch {
    return undefined;
  }
}

/** Every process below `pid` (children, their children, ...), read from /proc before `pid` is killed. */
async function descendants(pid: number): Promise<number[]> {
  const found: number[] = [];
  const pending = [pid];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    let tasks: string[] = [];
    try {
      tasks = await readdir(`/proc/${String(next)}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      const text = await readFile(`/proc/${String(next)}/task/${task}/children`, 'utf8').catch(() => '');
      for (const word of text.trim().split(/\s+/)) {
        if (word === '') continue;
        found.push(Number(word));
        pending.push(Number(word));
      }
    }
  }
  return found;
}

/** Waits up to a minute for `pids` to exit; those still there then get SIGKILL too. */
async function waitGone(pids: readonly number[], what: string): Promise<void> {
  for (let waited = 0; waited < 60_000; waited += 100) {
    if (!pids.some(processAlive)) return;
    await sleep(100);
  }
  process.stderr.write(`${what} still running a minute after the kill: SIGKILL\n`);
  for (const pid of pids.filter(processAlive)) process.kill(pid, 'SIGKILL');
}
