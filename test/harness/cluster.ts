// A real PostgreSQL cluster for integration tests, run as the postgres OS user on its own port and socket dir.
//
// Usage:
//   const pg = await PgCluster.create({ settings: { archive_mode: 'on', archive_command: '...' } });
//   afterAll(() => pg.destroy());
//   await pg.start();
//   await pg.psql('create table t (i int); insert into t values (1)');
//   await pg.runTool('pg_basebackup', ['-D', copyDir, '-X', 'stream']);
//   const copy = await PgCluster.fromDataDir(copyDir);   // e.g. a data directory pgstash restored
//   await copy.start();  await copy.waitForRecoveryEnd();
//
// Each cluster lives in a temp dir `pgstash-test-*` (data/, socket/, postgres.log), owned by postgres.
// Connections go over the unix socket only (listen_addresses = ''); the port is a free one all the same, so
// that the socket name and anything a test derives from it stays unique. Servers are started with pg_ctl and
// stopped by destroy(); if a test process ends without that, the reaper stops them (pg_ctl stop -m
// immediate, then SIGKILL of the recorded postmaster pid).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, chown, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { baseEnv, exec, execChecked, processAlive, type ExecResult } from './exec.js';
import { freePort } from './ports.js';
import { POSTGRES_USER, postgresIds } from './postgres-user.js';
import { onProcessExit } from './reaper.js';
import { createTempDir, removeTempDir } from './tmp.js';

/** Where the PostgreSQL 15 programs are; PGSTASH_PG_BIN overrides it. */
export function pgBinDir(): string {
  return process.env['PGSTASH_PG_BIN'] ?? '/usr/lib/postgresql/15/bin';
}

/** Absolute path of a PostgreSQL program; throws with a hint when it is not installed (a test must fail, not skip). */
export function pgBin(program: string): string {
  const path = join(pgBinDir(), program);
  if (!existsSync(path)) {
    throw new Error(
      `PostgreSQL program '${path}' is missing\n` +
        'HINT: install PostgreSQL 15 (apt-get install postgresql-15 postgresql-client-15, as .ci/run does) ' +
        'or set PGSTASH_PG_BIN to the directory holding initdb, pg_ctl and psql.',
    );
  }
  return path;
}

export interface ClusterOptions {
  /** initdb -k (default true): pgstash verifies page checksums during backup. */
  readonly dataChecksums?: boolean;
  /** postgresql.conf settings appended after initdb, e.g. { archive_mode: 'on', archive_command: '...' }. */
  readonly settings?: Readonly<Record<string, string>>;
  /** initdb --wal-segsize (MB, a power of two from 1 to 1024); default 16. */
  readonly walSegmentSizeMb?: number;
}

export interface DataDirOptions {
  /**
   * Settings passed on the postgres command line (`-c name=value`), which override the data directory's own
   * postgresql.conf and postgresql.auto.conf; the restored files stay as they are. listen_addresses defaults
   * to '' here too.
   */
  readonly settings?: Readonly<Record<string, string>>;
  /** Remove the data directory in destroy() as well (default false: it belongs to whoever made it). */
  readonly removeDataDir?: boolean;
}

export interface StartOptions {
  /** Wait until the server accepts connections (pg_ctl -w, the default) or return once it is launched. */
  readonly wait?: boolean;
  /** How long pg_ctl waits, in seconds (default 120). */
  readonly timeoutSec?: number;
}

/** How to reach the server with a client such as `pg` (host is the socket directory). */
export interface ConnectionInfo {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
}

export class PgCluster {
  /** The temp dir that holds this cluster's socket dir and log (and, for create(), its data directory). */
  readonly baseDir: string;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly port: number;
  /** The server log (pg_ctl -l), outside the data directory so that backups never contain it. */
  readonly logFile: string;

  readonly #commandLineSettings: Readonly<Record<string, string>>;
  readonly #removeDataDir: boolean;
  #pid: number | undefined;
  #unregisterReaper: (() => void) | undefined;

  private constructor(init: {
    baseDir: string;
    dataDir: string;
    port: number;
    commandLineSettings: Readonly<Record<string, string>>;
    removeDataDir: boolean;
  }) {
    this.baseDir = init.baseDir;
    this.dataDir = init.dataDir;
    this.socketDir = join(init.baseDir, 'socket');
    this.logFile = join(init.baseDir, 'postgres.log');
    this.port = init.port;
    this.#commandLineSettings = init.commandLineSettings;
    this.#removeDataDir = init.removeDataDir;
  }

  /** A new cluster (initdb), not yet started. */
  static async create(options: ClusterOptions = {}): Promise<PgCluster> {
    const initdb = pgBin('initdb');
    const baseDir = await createTempDir({ label: 'pg' });
    const cluster = new PgCluster({
      baseDir,
      dataDir: join(baseDir, 'data'),
      port: await freePort(),
      commandLineSettings: {},
      removeDataDir: false,
    });
    await cluster.#makeRunDirs();
    const args = [
      '-D',
      cluster.dataDir,
      '-U',
      POSTGRES_USER,
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
    ];
    // --no-sync: initdb's fsync of every file costs seconds and buys nothing for a throwaway cluster.
    args.push('--no-instructions', '--no-sync');
    if (options.dataChecksums ?? true) args.push('--data-checksums');
    if (options.walSegmentSizeMb !== undefined)
      args.push(`--wal-segsize=${String(options.walSegmentSizeMb)}`);
    await execChecked(initdb, args, { asPostgres: true });
    await cluster.appendConfig({
      listen_addresses: '',
      port: String(cluster.port),
      unix_socket_directories: cluster.socketDir,
      log_line_prefix: '%m [%p] ',
      ...options.settings,
    });
    return cluster;
  }

  /**
   * A cluster around an existing data directory, e.g. one pgstash restored or pg_basebackup copied: it gets
   * its own free port, socket dir and log. The directory must belong to postgres with mode 0700 or 0750, as
   * PostgreSQL itself demands (a restore that gets this wrong fails start() with the server's own message).
   */
  static async fromDataDir(dataDir: string, options: DataDirOptions = {}): Promise<PgCluster> {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) {
      throw new Error(`'${dataDir}' is not a PostgreSQL data directory: it has no PG_VERSION file`);
    }
    const cluster = new PgCluster({
      baseDir: await createTempDir({ label: 'pgrun' }),
      dataDir,
      port: await freePort(),
      commandLineSettings: { listen_addresses: '', ...options.settings },
      removeDataDir: options.removeDataDir ?? false,
    });
    await cluster.#makeRunDirs();
    return cluster;
  }

  /** The postmaster's pid while this object has it started, else undefined. */
  get pid(): number | undefined {
    return this.#pid;
  }

  get connection(): ConnectionInfo {
    return { host: this.socketDir, port: this.port, user: POSTGRES_USER, database: 'postgres' };
  }

  /** pg_ctl start; on failure the error carries pg_ctl's output and the tail of the server log. */
  async start(options: StartOptions = {}): Promise<void> {
    if (await this.isRunning()) {
      throw new Error(`PostgreSQL already runs in '${this.dataDir}' (port ${String(this.port)})`);
    }
    const timeoutSec = options.timeoutSec ?? 120;
    const args = ['start', '-D', this.dataDir, '-l', this.logFile, '-o', this.#postgresOptions()];
    args.push((options.wait ?? true) ? '-w' : '-W', '-t', String(timeoutSec));
    // The reaper is armed before the server exists, so that a start interrupted half way is still cleaned up.
    this.#armReaper();
    const result = await exec(pgBin('pg_ctl'), args, {
      asPostgres: true,
      timeoutMs: (timeoutSec + 30) * 1000,
    });
    if (result.code !== 0) {
      await this.#stopQuietly();
      throw new Error(
        `unable to start PostgreSQL in '${this.dataDir}' (port ${String(this.port)}): ` +
          `${result.stdout}${result.stderr}\n--- last lines of '${this.logFile}' ---\n${await this.logTail()}`,
      );
    }
    this.#pid = await this.#readPid((options.wait ?? true) ? 0 : 5000);
  }

  /**
   * pg_ctl stop (fast by default) and, when this object started the server, a wait until the postmaster
   * process is gone (pg_ctl returns once postmaster.pid is removed, a moment before the process exits).
   * Stopping a server that is not running does nothing.
   */
  async stop(mode: 'fast' | 'immediate' | 'smart' = 'fast'): Promise<void> {
    const pid = this.#pid;
    if (await this.isRunning()) {
      const args = ['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', '120'];
      const result = await exec(pgBin('pg_ctl'), args, { asPostgres: true, timeoutMs: 150_000 });
      if (result.code !== 0 && (await this.isRunning())) {
        throw new Error(
          `unable to stop PostgreSQL in '${this.dataDir}' (${mode}): ${result.stdout}${result.stderr}\n` +
            `--- last lines of '${this.logFile}' ---\n${await this.logTail()}`,
        );
      }
    }
    for (let waited = 0; pid !== undefined && processAlive(pid) && waited < 10_000; waited += 50)
      await sleep(50);
    this.#pid = undefined;
    this.#unregisterReaper?.();
    this.#unregisterReaper = undefined;
  }

  /** stop() then start(): for settings that need a restart, such as archive_mode. */
  async restart(mode: 'fast' | 'immediate' = 'fast', options: StartOptions = {}): Promise<void> {
    await this.stop(mode);
    await this.start(options);
  }

  /** pg_ctl reload: applies settings changed by appendConfig that need no restart. */
  async reload(): Promise<void> {
    await execChecked(pgBin('pg_ctl'), ['reload', '-D', this.dataDir], { asPostgres: true });
  }

  /** Whether a postmaster runs on this data directory (pg_ctl status), whoever started it. */
  async isRunning(): Promise<boolean> {
    const result = await exec(pgBin('pg_ctl'), ['status', '-D', this.dataDir], { asPostgres: true });
    return result.code === 0;
  }

  /**
   * Runs SQL through psql over the socket as postgres (-X -A -t -q, ON_ERROR_STOP) and returns its trimmed
   * output: one line per row, columns separated by '|'. Several statements may be given; an error rejects.
   */
  async psql(sql: string, options: { database?: string; timeoutSec?: number } = {}): Promise<string> {
    const args = [
      '-X',
      '-A',
      '-t',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-h',
      this.socketDir,
      '-p',
      String(this.port),
    ];
    args.push('-U', POSTGRES_USER, '-d', options.database ?? 'postgres', '-f', '-');
    const timeoutMs = (options.timeoutSec ?? 600) * 1000;
    const result = await exec(pgBin('psql'), args, { asPostgres: true, input: sql, timeoutMs });
    if (result.code !== 0) {
      const why =
        result.signal === null
          ? result.stderr.trim()
          : `killed by ${result.signal} after ${String(timeoutMs)} ms`;
      throw new Error(`psql failed on port ${String(this.port)}: ${why}\nSQL: ${sql}`);
    }
    return result.stdout.trim();
  }

  /**
   * Runs a PostgreSQL program (pg_basebackup, pg_controldata, pg_waldump, ...) as postgres with PGHOST,
   * PGPORT, PGUSER and PGDATA pointing at this cluster; a non-zero exit rejects with its output.
   */
  async runTool(program: string, args: readonly string[]): Promise<ExecResult> {
    return execChecked(pgBin(program), args, {
      asPostgres: true,
      env: { PGHOST: this.socketDir, PGPORT: String(this.port), PGUSER: POSTGRES_USER, PGDATA: this.dataDir },
      timeoutMs: 600_000,
    });
  }

  /** Appends `name = 'value'` lines to postgresql.conf (later lines win); reload or restart to apply. */
  async appendConfig(lines: Readonly<Record<string, string>>): Promise<void> {
    let text = '\n# added by the pgstash test harness\n';
    for (const [name, value] of Object.entries(lines)) {
      if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) throw new Error(`invalid setting name '${name}'`);
      text += `${name} = '${value.replaceAll("'", "''")}'\n`;
    }
    await appendFile(join(this.dataDir, 'postgresql.conf'), text);
  }

  /** The last lines of the server log ('' when there is none yet). */
  async logTail(lines = 50): Promise<string> {
    let text: string;
    try {
      text = await readFile(this.logFile, 'utf8');
    } catch {
      return '';
    }
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  }

  /** Polls pg_is_in_recovery() until it is false; rejects on timeout or when the server stops meanwhile. */
  async waitForRecoveryEnd(timeoutSec = 120): Promise<void> {
    const deadline = Date.now() + timeoutSec * 1000;
    let last = '';
    while (Date.now() < deadline) {
      if (!(await this.isRunning())) {
        throw new Error(
          `PostgreSQL in '${this.dataDir}' stopped before recovery ended\n` +
            `--- last lines of '${this.logFile}' ---\n${await this.logTail()}`,
        );
      }
      try {
        if ((await this.psql('select pg_is_in_recovery()')) === 'f') return;
        last = 'still in recovery';
      } catch (error) {
        // "the database system is starting up" and the like: not ready yet, try again.
        last = error instanceof Error ? error.message : String(error);
      }
      await sleep(250);
    }
    throw new Error(
      `PostgreSQL in '${this.dataDir}' did not finish recovery within ${String(timeoutSec)}s (${last})\n` +
        `--- last lines of '${this.logFile}' ---\n${await this.logTail()}`,
    );
  }

  /** Stops the server (immediate) if it runs and removes the cluster's temp dir. */
  async destroy(): Promise<void> {
    await this.stop('immediate');
    await removeTempDir(this.baseDir);
    if (this.#removeDataDir) await removeTempDir(this.dataDir);
  }

  /** Socket dir (postgres-owned, 0700) and an empty log file postgres can append to. */
  async #makeRunDirs(): Promise<void> {
    const { uid, gid } = postgresIds();
    await mkdir(this.socketDir, { mode: 0o700 });
    await chown(this.socketDir, uid, gid);
    await appendFile(this.logFile, '');
    await chown(this.logFile, uid, gid);
  }

  /** The -o string pg_ctl hands to the shell that execs postgres: every word is shell-quoted. */
  #postgresOptions(): string {
    const words = ['-p', String(this.port), '-k', this.socketDir];
    for (const [name, value] of Object.entries(this.#commandLineSettings))
      words.push('-c', `${name}=${value}`);
    return words.map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(' ');
  }

  #armReaper(): void {
    if (this.#unregisterReaper !== undefined) return;
    const pgCtl = pgBin('pg_ctl');
    this.#unregisterReaper = onProcessExit('server', () => {
      const stopped = spawnSync(
        'runuser',
        ['-u', POSTGRES_USER, '--', pgCtl, 'stop', '-D', this.dataDir, '-m', 'immediate', '-w', '-t', '30'],
        { env: baseEnv(true), stdio: 'ignore', timeout: 40_000 },
      );
      const pid = this.#pid ?? this.#pidFromFile();
      if (pid === undefined) return;
      // Nothing asynchronous completes during process exit: sleep synchronously while the postmaster exits.
      const tick = new Int32Array(new SharedArrayBuffer(4));
      for (let waited = 0; stopped.status === 0 && processAlive(pid) && waited < 5000; waited += 50) {
        Atomics.wait(tick, 0, 0, 50);
      }
      if (processAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
      }
    });
  }

  async #stopQuietly(): Promise<void> {
    try {
      await this.stop('immediate');
    } catch {
      // The start error that follows says more.
    }
  }

  /** The postmaster pid from postmaster.pid, waiting up to `waitMs` for the file to appear. */
  async #readPid(waitMs: number): Promise<number | undefined> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const pid = this.#pidFromFile();
      if (pid !== undefined || Date.now() >= deadline) return pid;
      await sleep(100);
    }
  }

  #pidFromFile(): number | undefined {
    try {
      const first = readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0];
      const pid = Number(first);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }
}
