// The drill's PostgreSQL server: started on the restored directory, private to this drill, as the directory's owner.
//
// Started as `postgres -D <dir>` directly (no pg_ctl: no shell reads its settings), with settings on its command
// line that win over what the backup's configuration says: no TCP (listen_addresses ''), a unix socket in the
// drill's private directory only, archiving off (the copy must never push WAL into the stanza), trust for local
// connections through a pg_hba.conf of the drill's own (the socket directory is the only way in), and no
// synchronous standby to wait for once promoted.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, open, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PgStashError, isPgStashError, messageOf } from '../../common/errors.js';
import { log } from '../../common/log.js';
import { userName } from '../../common/os-users.js';
import { connectPg, type PgSession } from '../../postgres/client.js';

export interface ServerOwner {
  readonly uid: number;
  readonly gid: number;
  readonly name: string;
}

/** The owner of the restored data directory: the server runs as that user (as root: always so). */
export async function dataDirectoryOwner(pgPath: string): Promise<ServerOwner> {
  const { uid, gid } = await stat(pgPath);
  return { uid, gid, name: userName(uid) ?? String(uid) };
}

/** A TCP port nobody listens on now: the server listens on none, but its socket file is named after it. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export interface DrillServerSettings {
  readonly binDir: string;
  /** The cluster's PostgreSQL major version ('15'). */
  readonly version: string;
  readonly pgPath: string;
  /** Private directory (0700, the owner's) for the log and pg_hba.conf. */
  readonly serverDir: string;
  /** Private directory (0700, the owner's) for the socket: serverDir, or a short one when that path is too long. */
  readonly socketDir: string;
  readonly logFile: string;
  readonly port: number;
  readonly owner: ServerOwner;
  /** Connect as this role (the cluster's superuser). */
  readonly user: string;
  readonly database: string;
}

/**
 * The settings given on the postgres command line, which win over the restored configuration files. Besides the
 * network and archiving: the restored postgresql.conf may name production's own places and commands, which a
 * drill must not use: its data directory (data_directory: -D only names where the configuration is), its pid
 * file, its statistics directory (PostgreSQL 14 and older), and the commands that run at the end of recovery
 * or clean an archive up (recovery_end_command, archive_cleanup_command: a standby's pg_archivecleanup, say).
 */
function commandLineSettings(settings: DrillServerSettings, hbaFile: string): Record<string, string> {
  return {
    data_directory: settings.pgPath,
    external_pid_file: '',
    ...(Number(settings.version) < 15 ? { stats_temp_directory: 'pg_stat_tmp' } : {}),
    recovery_end_command: '',
    archive_cleanup_command: '',
    port: String(settings.port),
    listen_addresses: '',
    unix_socket_directories: settings.socketDir,
    unix_socket_permissions: '0700',
    hba_file: hbaFile,
    archive_mode: 'off',
    archive_command: '',
    synchronous_standby_names: '',
    hot_standby: 'on',
    ssl: 'off',
    logging_collector: 'off',
    cluster_name: 'pgstash-drill',
  };
}

/** A restored server: started, waited for, stopped. */
export class DrillServer {
  readonly settings: DrillServerSettings;
  #child: ChildProcess | undefined;
  #exited: { code: number | null; signal: string | null } | undefined;

  constructor(settings: DrillServerSettings) {
    this.settings = settings;
  }

  /** Writes what the server needs beside the restored directory and starts it (without waiting). */
  async start(): Promise<void> {
    const { pgPath, serverDir, logFile, owner, binDir } = this.settings;
    const hbaFile = join(serverDir, 'pg_hba.conf');
    // Local connections only, through the private socket directory: trust is what reaches only its owner (and root).
    await writeFile(hbaFile, 'local all all trust\n', { mode: 0o600 });
    // A data directory whose configuration lives elsewhere (Debian's /etc/postgresql): postgres needs one here.
    const conf = join(pgPath, 'postgresql.conf');
    if (!existsSync(conf)) await writeFile(conf, '# written by pgstash drill\n', { mode: 0o600 });
    const asRoot = process.geteuid?.() === 0;
    if (asRoot) for (const path of [hbaFile, conf]) await chown(path, owner.uid, owner.gid);
    const args = ['-D', pgPath];
    for (const [name, value] of Object.entries(commandLineSettings(this.settings, hbaFile)))
      args.push('-c', `${name}=${value}`);
    const logHandle = await open(logFile, 'a', 0o600);
    if (asRoot) await logHandle.chown(owner.uid, owner.gid);
    try {
      const child = spawn(join(binDir, 'postgres'), args, {
        stdio: ['ignore', logHandle.fd, logHandle.fd],
        detached: true,
        ...(asRoot ? { uid: owner.uid, gid: owner.gid } : {}),
        env: { ...process.env, PGDATA: pgPath, LC_MESSAGES: 'C' },
      });
      this.#child = child;
      child.once('exit', (code, signal) => (this.#exited = { code, signal }));
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', () => resolve());
        child.once('error', (error) =>
          reject(
            new PgStashError(
              'drillStart',
              `unable to run '${join(binDir, 'postgres')}': ${messageOf(error)}`,
            ),
          ),
        );
      });
    } finally {
      await logHandle.close();
    }
  }

  get running(): boolean {
    return this.#child !== undefined && this.#exited === undefined;
  }

  /** The last lines of the server log that say why it stopped (FATAL, PANIC), for messages. */
  async logReason(): Promise<string> {
    const text = await readFile(this.settings.logFile, 'utf8').catch(() => '');
    const lines = text.split('\n').filter((line) => /\b(FATAL|PANIC|ERROR):/.test(line));
    return lines.slice(-2).join(' / ') || text.trim().split('\n').slice(-1)[0] || 'no server log';
  }

  /** Whether the server got as far as recovery (so a failure from here on is recovery's, not start-up's). */
  async recoveryBegan(): Promise<boolean> {
    const text = await readFile(this.settings.logFile, 'utf8').catch(() => '');
    return /starting (point-in-time recovery|archive recovery)|redo starts at/.test(text);
  }

  /** The server stopped by itself: a start-up (111) or a recovery (112) failure, with the log's reason. */
  async #died(): Promise<never> {
    const exit = this.#exited;
    const how = exit?.signal ?? `exit code ${exit?.code ?? '?'}`;
    const reason = await this.logReason();
    if (await this.recoveryBegan()) {
      throw new PgStashError(
        'drillRecovery',
        `the restored server stopped during recovery (${how}): ${reason}`,
        {
          hint: `the server log is ${this.settings.logFile}`,
        },
      );
    }
    throw new PgStashError('drillStart', `the restored server could not start (${how}): ${reason}`, {
      hint: `the server log is ${this.settings.logFile}`,
    });
  }

  /** A session on the copy, in `database` (default: pg1-database). */
  async connect(database = this.settings.database): Promise<PgSession> {
    const { socketDir, port, user } = this.settings;
    return connectPg({
      socketPath: socketDir,
      port,
      user,
      database,
      applicationName: 'pgstash drill',
      connectTimeoutMs: 10_000,
    });
  }

  /**
   * Waits until the server has recovered and promoted (pg_is_in_recovery() false). Fails with 111 or 112 when it
   * stops first, with 112 after `timeoutMs`.
   */
  async waitForPromotion(timeoutMs: number, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastProblem = 'not accepting connections yet';
    for (;;) {
      if (signal.aborted) throw signal.reason;
      if (!this.running) await this.#died();
      let session: PgSession | undefined;
      try {
        session = await this.connect();
        const [row] = await session.query<{ recovering: boolean }>(
          'select pg_is_in_recovery() as recovering',
        );
        if (row?.recovering === false) return;
        lastProblem = 'still in recovery';
      } catch (error) {
        if (!isPgStashError(error)) throw error;
        lastProblem = error.message;
      } finally {
        await session?.close();
      }
      if (Date.now() > deadline) {
        throw new PgStashError(
          'drillRecovery',
          `the restored server did not promote within ${Math.round(timeoutMs / 1000)}s (${lastProblem}): ${await this.logReason()}`,
          { hint: 'raise drill-timeout for a long recovery; the server log is ' + this.settings.logFile },
        );
      }
      await sleep(250);
    }
  }

  /** Stops the server: fast shutdown, then immediate, then SIGKILL; resolves once the postmaster is gone. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined || this.#exited !== undefined) return;
    const gone = new Promise<void>((resolve) => {
      if (this.#exited !== undefined) resolve();
      else child.once('exit', () => resolve());
    });
    for (const [signal, waitMs] of [
      ['SIGINT', 60_000],
      ['SIGQUIT', 10_000],
      ['SIGKILL', 10_000],
    ] as const) {
      try {
        // The last resort goes to the whole process group (detached: its own), the backends with the postmaster.
        if (signal === 'SIGKILL' && child.pid !== undefined) process.kill(-child.pid, signal);
        else child.kill(signal);
      } catch (error) {
        log.warn(`unable to signal the drill server (pid ${child.pid ?? '?'}): ${messageOf(error)}`);
      }
      const stopped = await Promise.race([gone.then(() => true), sleep(waitMs).then(() => false)]);
      if (stopped) return;
    }
  }
}
