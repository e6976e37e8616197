// A ready test setup: a real PostgreSQL cluster archiving through pgstash into a fresh repository.
import { chown, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PgCluster, type ClusterOptions } from './cluster.js';
import { postgresIds } from './postgres-user.js';
import { pgstashCommandLine, runPgstash, type PgstashResult } from './pgstash.js';
import { spawnPgstash, type BackgroundPgstash } from './pgstash-process.js';
import { createTempDir, removeTempDir } from './tmp.js';

export interface StanzaSetupOptions {
  readonly compressType?: 'none' | 'gz' | 'lz4' | 'zst';
  readonly cipherPass?: string;
  readonly walSegmentSizeMb?: number;
  readonly cluster?: ClusterOptions;
  /** Extra lines for the [global] section. */
  readonly global?: Readonly<Record<string, string>>;
  /** Archive through pgstash (default true). */
  readonly archive?: boolean;
  readonly stanza?: string;
}

export interface StanzaSetup {
  readonly cluster: PgCluster;
  readonly dir: string;
  readonly repoPath: string;
  readonly configPath: string;
  readonly stanza: string;
  /** Runs pgstash with --config and --stanza as the postgres user. */
  pgstash(
    args: readonly string[],
    options?: { env?: Record<string, string>; as?: 'root' | 'postgres' },
  ): Promise<PgstashResult>;
  /**
   * Starts pgstash with --config and --stanza in the background as the postgres user (spawnPgstash), for a test
   * that signals it or watches it run.
   */
  spawn(args: readonly string[]): BackgroundPgstash;
  /** Like pgstash() but throws with the output when the exit code is not 0. */
  pgstashOk(
    args: readonly string[],
    options?: { env?: Record<string, string>; as?: 'root' | 'postgres' },
  ): Promise<PgstashResult>;
  destroy(): Promise<void>;
}

export function configText(sections: Readonly<Record<string, Readonly<Record<string, string>>>>): string {
  return Object.entries(sections)
    .map(
      ([name, options]) =>
        `[${name}]\n${Object.entries(options)
          .map(([key, value]) => `${key}=${value}`)
          .join('\n')}\n`,
    )
    .join('\n');
}

/** Writes a config file owned by postgres, mode 0600 (it may hold a passphrase). */
export async function writeConfig(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  const { uid, gid } = postgresIds();
  await chown(path, uid, gid);
}

export async function createStanzaSetup(options: StanzaSetupOptions = {}): Promise<StanzaSetup> {
  const stanza = options.stanza ?? 'main';
  const dir = await createTempDir({ label: 'stanza' });
  const repoPath = join(dir, 'repo');
  const configPath = join(dir, 'pgstash.conf');
  const clusterSettings: Record<string, string> = { ...options.cluster?.settings };
  if (options.archive ?? true) {
    clusterSettings['archive_mode'] = 'on';
    clusterSettings['archive_command'] =
      `${pgstashCommandLine(configPath)} --stanza=${stanza} archive-push %p`;
  }
  const cluster = await PgCluster.create({
    ...options.cluster,
    ...(options.walSegmentSizeMb === undefined ? {} : { walSegmentSizeMb: options.walSegmentSizeMb }),
    settings: clusterSettings,
  });
  const global: Record<string, string> = {
    'repo1-path': repoPath,
    'log-path': join(dir, 'log'),
    'lock-path': join(dir, 'lock'),
    'log-level-file': 'detail',
    'compress-type': options.compressType ?? 'zst',
    ...options.global,
  };
  if (options.cipherPass !== undefined) {
    global['repo1-cipher-type'] = 'aes-256-gcm';
    global['repo1-cipher-pass'] = options.cipherPass;
  }
  await writeConfig(
    configPath,
    configText({
      global,
      [stanza]: {
        'pg1-path': cluster.dataDir,
        'pg1-socket-path': cluster.socketDir,
        'pg1-port': String(cluster.port),
      },
    }),
  );
  const pgstash: StanzaSetup['pgstash'] = (args, runOptions) =>
    runPgstash([`--config=${configPath}`, `--stanza=${stanza}`, ...args], {
      as: runOptions?.as ?? 'postgres',
      ...(runOptions?.env === undefined ? {} : { env: runOptions.env }),
    });
  return {
    cluster,
    dir,
    repoPath,
    configPath,
    stanza,
    pgstash,
    spawn: (args) => spawnPgstash([`--config=${configPath}`, `--stanza=${stanza}`, ...args]),
    async pgstashOk(args, runOptions) {
      const result = await pgstash(args, runOptions);
      if (result.code !== 0) {
        throw new Error(
          `pgstash ${args.join(' ')} exited ${String(result.code)}\nstdout: ${result.stdout}\nstderr: ${result.stderr}\n` +
            `--- server log ---\n${await cluster.logTail(30)}`,
        );
      }
      return result;
    },
    async destroy() {
      await cluster.destroy();
      await removeTempDir(dir);
    },
  };
}
