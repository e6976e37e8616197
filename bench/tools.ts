// The two tools under test, pgstash and pgBackRest: each with its own config file, repository and command lines.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgCluster } from '../test/harness/cluster.js';
import { shellQuote } from '../test/harness/pgstash.js';
import { mkdirForPostgres } from '../test/harness/postgres-user.js';
import { PGSTASH_BIN as PGSTASH_CLI } from '../test/harness/pgstash.js';
import { configText, writeConfig } from '../test/harness/stanza.js';
import type { BenchCompress } from './settings.js';

export type ToolName = 'pgstash' | 'pgbackrest';

/** The stanza both tools use; each tool has its own repository, so the name can be the same. */
export const STANZA = 'bench';

/** Default compression levels, which both tools share; written to both configs so that neither drifts. */
export const COMPRESS_LEVEL: Readonly<Record<BenchCompress, number>> = { lz4: 1, zst: 3 };

/**
 * The order of a pair for the index-th measurement: AB, BA, AB, ... Whichever tool runs second finds warmer
 * caches; alternating gives each tool the same share of first and second places.
 */
export function alternate<T>(pair: readonly [T, T], index: number): readonly [T, T] {
  return index % 2 === 0 ? pair : [pair[1], pair[0]];
}

export interface Tool {
  readonly name: ToolName;
  /** How tables and messages name the tool. */
  readonly label: string;
  /** The command line of `<tool> version` (startup cost with no work). */
  readonly versionArgv: readonly string[];
  /**
   * Writes a config for a fresh repository under `dir` (owned by postgres) backing up `cluster`. `block`: block
   * incremental (repo1-block=y) where the tool has it (pgstash once its option table lists it; pgBackRest 2.45
   * has none, 2.46 brought it), ignored otherwise.
   */
  prepare(dir: string, options: PrepareOptions): Promise<ToolRepo>;
}

export interface PrepareOptions {
  readonly cluster: PgCluster;
  readonly compress: BenchCompress;
  readonly block?: boolean;
  /**
   * The repository's repo1-* options when it is not a local directory (an S3 bucket: repo1-type, repo1-path,
   * repo1-s3-*, repo1-storage-*). Both tools take the same names, so both get the same lines.
   */
  readonly store?: Readonly<Record<string, string>>;
  /** More [global] options, the same for both tools (archive-async=y, spool-path, process-max...). */
  readonly extra?: Readonly<Record<string, string>>;
}

/** One tool configured with one repository: its command lines, archive_command and where it stores things. */
export class ToolRepo {
  readonly tool: Tool;
  /** The directory holding the config, repository, logs and locks (the caller's, to remove when done). */
  readonly dir: string;
  readonly configPath: string;
  readonly repoPath: string;
  readonly #program: readonly string[];
  readonly #archiveCommand: string;

  constructor(
    tool: Tool,
    init: { dir: string; configPath: string; program: readonly string[]; archiveCommand: string },
  ) {
    this.tool = tool;
    this.dir = init.dir;
    this.configPath = init.configPath;
    this.repoPath = join(init.dir, 'repo');
    this.#program = init.program;
    this.#archiveCommand = init.archiveCommand;
  }

  /** The full command line: program, --config, --stanza, then `args` (the command and its options). */
  argv(args: readonly string[]): string[] {
    return [...this.#program, `--config=${this.configPath}`, `--stanza=${STANZA}`, ...args];
  }

  /** archive_command that pushes into this repository, as PostgreSQL runs it through /bin/sh. */
  get archiveCommand(): string {
    return this.#archiveCommand;
  }

  /** Where archived WAL lives (both tools use the same layout). */
  get archiveDir(): string {
    return join(this.repoPath, 'archive', STANZA);
  }

  /** Where the stanza's backups are (both tools use the same layout). */
  get backupRoot(): string {
    return join(this.repoPath, 'backup', STANZA);
  }

  /** The directory of the one full backup in this repository (label YYYYMMDD-HHMMSSF). */
  async backupDir(): Promise<string> {
    const root = join(this.repoPath, 'backup', STANZA);
    const labels = (await readdir(root)).filter((name) => /^\d{8}-\d{6}F$/.test(name));
    if (labels.length !== 1 || labels[0] === undefined) {
      throw new Error(`expected one full backup in '${root}', found ${labels.length}: ${labels.join(', ')}`);
    }
    return join(root, labels[0]);
  }
}

/**
 * The log directory of a tool's config. pgBackRest does not create its log-path (its package ships
 * /var/log/pgbackrest): without this it warns and runs without a log file, so both tools would not log alike.
 */
async function makeLogDir(dir: string): Promise<void> {
  await mkdirForPostgres(join(dir, 'log'), 0o750);
}

/** The [global] options both tools get: same paths, same compression, same file log level. */
function globalSection(
  dir: string,
  compress: BenchCompress,
  store?: Readonly<Record<string, string>>,
): Record<string, string> {
  return {
    ...(store ?? { 'repo1-path': join(dir, 'repo') }),
    'lock-path': join(dir, 'lock'),
    'log-path': join(dir, 'log'),
    'log-level-file': 'info',
    'compress-type': compress,
    'compress-level': String(COMPRESS_LEVEL[compress]),
  };
}

function stanzaSection(cluster: PgCluster): Record<string, string> {
  return {
    'pg1-path': cluster.dataDir,
    'pg1-socket-path': cluster.socketDir,
    'pg1-port': String(cluster.port),
  };
}

/**
 * pgstash as users run it: bin/pgstash, whose shell line starts the first node on PATH (baseEnv puts the node that
 * runs the benchmark first).
 */
export const pgstash: Tool = {
  name: 'pgstash',
  label: 'pgstash',
  versionArgv: [PGSTASH_CLI, 'version'],
  async prepare(dir, options) {
    const configPath = join(dir, 'pgstash.conf');
    await makeLogDir(dir);
    await writeConfig(
      configPath,
      configText({
        global: {
          ...globalSection(dir, options.compress, options.store),
          ...(options.block === true ? { 'repo1-block': 'y' } : {}),
          ...options.extra,
        },
        [STANZA]: stanzaSection(options.cluster),
      }),
    );
    return new ToolRepo(this, {
      configPath,
      dir,
      program: [PGSTASH_CLI],
      archiveCommand: `${[PGSTASH_CLI, `--config=${configPath}`, `--stanza=${STANZA}`].map(shellQuote).join(' ')} archive-push %p`,
    });
  },
};

/** pgBackRest, installed from the distribution (its path comes from the prerequisite check). */
export function pgbackrest(binary: string): Tool {
  return {
    name: 'pgbackrest',
    label: 'pgBackRest',
    versionArgv: [binary, 'version'],
    async prepare(dir, options) {
      const configPath = join(dir, 'pgbackrest.conf');
      await makeLogDir(dir);
      await writeConfig(
        configPath,
        configText({
          global: { ...globalSection(dir, options.compress, options.store), ...options.extra },
          [STANZA]: stanzaSection(options.cluster),
        }),
      );
      const archiveCommand = [binary, `--config=${configPath}`, `--stanza=${STANZA}`]
        .map(shellQuote)
        .join(' ');
      return new ToolRepo(this, {
        configPath,
        dir,
        program: [binary],
        archiveCommand: `${archiveCommand} archive-push %p`,
      });
    },
  };
}
