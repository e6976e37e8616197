// Checks, before anything starts, that the benchmark can run: root, GNU time, pgBackRest, PostgreSQL, a built pgstash.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pgBin } from '../test/harness/cluster.js';
import { assertPostgresCanRead } from '../test/harness/postgres-user.js';
import { PGSTASH_BIN as PGSTASH_CLI } from '../test/harness/pgstash.js';
import { TIME_BIN } from './measure.js';

export interface Environment {
  /** Absolute path of the pgbackrest program. */
  readonly pgbackrestBin: string;
  readonly versions: {
    readonly pgstash: string;
    readonly pgbackrest: string;
    readonly postgres: string;
    readonly node: string;
  };
}

/** Throws with a HINT naming the fix for the first thing missing. */
export function checkPrerequisites(): Environment {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'the benchmark must run as root: it starts PostgreSQL and both tools as the postgres OS user\n' +
        'HINT: run it as root (sudo npm run bench), as the tests do.',
    );
  }
  if (!isExecutable(TIME_BIN)) {
    throw new Error(
      `GNU time '${TIME_BIN}' is missing: the benchmark reads CPU time and peak memory from it\n` +
        'HINT: apt-get install -y time',
    );
  }
  const pgbackrestBin = findOnPath('pgbackrest');
  if (pgbackrestBin === undefined) {
    throw new Error(
      "pgBackRest is not installed: 'pgbackrest' is not on PATH, and the benchmark compares pgstash with it\n" +
        'HINT: apt-get install -y pgbackrest',
    );
  }
  const postgres = firstLine(run(pgBin('postgres'), ['--version']));
  pgBin('pgbench');
  assertPostgresCanRead(process.execPath, { execute: true });
  assertPostgresCanRead(PGSTASH_CLI);
  const pgstash = run(
    process.execPath,
    [PGSTASH_CLI, 'version'],
    "HINT: build pgstash first: 'npm run build'.",
  );
  return {
    pgbackrestBin,
    versions: {
      pgstash: firstLine(pgstash),
      pgbackrest: firstLine(run(pgbackrestBin, ['version'])),
      postgres,
      node: process.version,
    },
  };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(program: string): string | undefined {
  const dirs = (process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter);
  for (const dir of [...dirs, '/usr/bin', '/usr/local/bin']) {
    if (dir !== '' && isExecutable(join(dir, program))) return join(dir, program);
  }
  return undefined;
}

/** Runs a quick command and returns its stdout; a failure throws with its output and `hint`. */
function run(program: string, args: readonly string[], hint = ''): string {
  const result = spawnSync(program, args, { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) {
    const why =
      result.error?.message ?? `exit code ${String(result.status)}: ${result.stdout}${result.stderr}`;
    throw new Error(
      `unable to run '${[program, ...args].join(' ')}': ${why.trim()}${hint === '' ? '' : `\n${hint}`}`,
    );
  }
  return result.stdout;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}
