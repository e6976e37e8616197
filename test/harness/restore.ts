// Restores for integration tests: pgstash restore into a fresh directory, pg_verifybackup on it, then a server around it.
//
// Usage:
//   const restores = new RestoreBench(setup);            afterAll(() => restores.cleanup());
//   const { dataDir } = await restores.restore(['--type=immediate']);   // restore + pg_verifybackup -n
//   const pg = await restores.start(dataDir);             // archive_mode off unless { archive: true }
//   await waitReplayPaused(pg);
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PgCluster, pgBin } from './cluster.js';
import { exec, type ExecResult } from './exec.js';
import { pgstashCommandLine, type PgstashResult } from './pgstash.js';
import type { StanzaSetup } from './stanza.js';
import { createTempDir, removeTempDir } from './tmp.js';

/** `pg_verifybackup -n <dataDir>` as postgres (checks the files against the backup_manifest restore wrote). */
export function verifyBackup(dataDir: string): Promise<ExecResult> {
  return exec(pgBin('pg_verifybackup'), ['-n', dataDir], { asPostgres: true, timeoutMs: 300_000 });
}

export interface RestoredDir {
  readonly dataDir: string;
  readonly result: PgstashResult;
}

export class RestoreBench {
  readonly #setup: Pick<StanzaSetup, 'pgstashOk' | 'configPath' | 'stanza'>;
  readonly #dirs: string[] = [];
  readonly #clusters: PgCluster[] = [];

  constructor(setup: Pick<StanzaSetup, 'pgstashOk' | 'configPath' | 'stanza'>) {
    this.#setup = setup;
  }

  /** A new empty temp dir (postgres-owned), removed by cleanup(). */
  async tempDir(label: string): Promise<string> {
    const dir = await createTempDir({ label });
    this.#dirs.push(dir);
    return dir;
  }

  /**
   * `pgstash restore --pg1-path=<new dir> ...args`, which must succeed, then `pg_verifybackup -n` on the result,
   * which must pass. `dataDir` restores into a given (missing or empty) directory;
   * `as` runs pgstash as root or as postgres (the default); `beforeVerify` looks at the directory before
   * pg_verifybackup reads every file.
   */
  async restore(
    args: readonly string[],
    options: {
      dataDir?: string;
      as?: 'root' | 'postgres';
      beforeVerify?: (dataDir: string) => Promise<void>;
    } = {},
  ): Promise<RestoredDir> {
    const dataDir = options.dataDir ?? join(await this.tempDir('restore'), 'data');
    const result = await this.#setup.pgstashOk(['restore', `--pg1-path=${dataDir}`, ...args], {
      as: options.as ?? 'postgres',
    });
    await options.beforeVerify?.(dataDir);
    const verified = await verifyBackup(dataDir);
    if (verified.code !== 0) {
      throw new Error(
        `pg_verifybackup -n '${dataDir}' failed after 'restore ${args.join(' ')}':\n${verified.stdout}${verified.stderr}`,
      );
    }
    return { dataDir, result };
  }

  /**
   * A server on the restored directory, started (pg_ctl -w unless `wait: false`). Archiving is off unless
   * `archive` is set: then it archives into the same stanza. archive-push resolves a relative %p against
   * pg1-path, which the config file sets to the source's data directory: the command names this one.
   * `settings` are more command-line settings (they override the restored configuration files).
   */
  async start(
    dataDir: string,
    options: { archive?: boolean; wait?: boolean; settings?: Readonly<Record<string, string>> } = {},
  ): Promise<PgCluster> {
    const archiveCommand = `${pgstashCommandLine(this.#setup.configPath)} --stanza=${this.#setup.stanza} --pg1-path=${dataDir} archive-push %p`;
    const archiving =
      options.archive === true
        ? { archive_mode: 'on', archive_command: archiveCommand }
        : { archive_mode: 'off' };
    const cluster = await PgCluster.fromDataDir(dataDir, { settings: { ...archiving, ...options.settings } });
    this.#clusters.push(cluster);
    await cluster.start({ wait: options.wait ?? true });
    return cluster;
  }

  /** Stops every server started here and removes every directory made here. */
  async cleanup(): Promise<void> {
    await this.stopServers();
    for (const dir of this.#dirs.splice(0)) await removeTempDir(dir);
  }

  /** Stops every server started here: before unmounting a file system one of them runs on. */
  async stopServers(): Promise<void> {
    for (const cluster of this.#clusters.splice(0)) await cluster.destroy();
  }
}

/** Polls until recovery is paused at its target (pg_get_wal_replay_pause_state() = 'paused'). */
export async function waitReplayPaused(cluster: PgCluster, timeoutSec = 120): Promise<void> {
  await pollServer(cluster, timeoutSec, 'pause at the recovery target', async () => {
    return (await cluster.psql('select pg_get_wal_replay_pause_state()')) === 'paused';
  });
}

/** Waits until the server has stopped by itself (recovery_target_action = shutdown), failing if it does not. */
export async function waitStoppedByItself(cluster: PgCluster, timeoutSec = 120): Promise<void> {
  const deadline = Date.now() + timeoutSec * 1000;
  while (Date.now() < deadline) {
    if (!(await cluster.isRunning())) return;
    await sleep(200);
  }
  throw new Error(
    `PostgreSQL in '${cluster.dataDir}' still runs after ${timeoutSec}s\n${await cluster.logTail(30)}`,
  );
}

/**
 * Polls `done` against a running server until it returns true; fails when the server stops or on timeout,
 * with the tail of its log. Errors thrown by `done` (not ready yet) count as "not yet".
 */
export async function waitUntil(
  cluster: PgCluster,
  what: string,
  done: () => Promise<boolean>,
  timeoutSec = 120,
): Promise<void> {
  await pollServer(cluster, timeoutSec, what, done);
}

async function pollServer(
  cluster: PgCluster,
  timeoutSec: number,
  what: string,
  done: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutSec * 1000;
  let last = '';
  while (Date.now() < deadline) {
    if (!(await cluster.isRunning())) {
      throw new Error(
        `PostgreSQL in '${cluster.dataDir}' stopped before it reached ${what}\n${await cluster.logTail(30)}`,
      );
    }
    try {
      if (await done()) return;
      last = 'not yet';
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(200);
  }
  throw new Error(
    `PostgreSQL in '${cluster.dataDir}' did not reach ${what} within ${timeoutSec}s (${last})\n${await cluster.logTail(30)}`,
  );
}
