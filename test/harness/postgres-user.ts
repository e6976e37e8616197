// The postgres OS user: its ids, and a loud check that it can reach the files the tests make it run or read.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chown, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The OS user PostgreSQL runs as: initdb and postgres refuse to run as root. */
export const POSTGRES_USER = 'postgres';

export interface UserIds {
  readonly uid: number;
  readonly gid: number;
}

let ids: UserIds | undefined;

/** uid and gid of the postgres user, read from /etc/passwd (Node has no getpwnam). */
export function postgresIds(): UserIds {
  if (ids !== undefined) return ids;
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === POSTGRES_USER && fields[2] !== undefined && fields[3] !== undefined) {
      ids = { uid: Number(fields[2]), gid: Number(fields[3]) };
      return ids;
    }
  }
  throw new Error(
    `unable to find user '${POSTGRES_USER}' in '/etc/passwd'\n` +
      'HINT: install PostgreSQL 15 (apt-get install postgresql-15), which creates that user; .ci/run does.',
  );
}

/** Makes the directory `dir` (its parent exists) for the postgres user to write in: owned by postgres, `mode`. */
export async function mkdirForPostgres(dir: string, mode = 0o755): Promise<string> {
  await mkdir(dir, { mode });
  const { uid, gid } = postgresIds();
  await chown(dir, uid, gid);
  return dir;
}

const checked = new Set<string>();

/**
 * Throws, with an explanation, unless the postgres user can read `path` (and execute it when `execute`).
 * PostgreSQL runs archive_command and restore_command as postgres, so the checkout (bin/, dist/,
 * node_modules/) and the node binary must be reachable by that user: a clone under a private home directory
 * (mode 0700) is not, and the failure would otherwise show up as a puzzling archiving timeout.
 */
export function assertPostgresCanRead(path: string, options: { execute?: boolean } = {}): void {
  const test = options.execute === true ? '-x' : '-r';
  const key = `${test} ${path}`;
  if (checked.has(key)) return;
  if (!postgresTest(test, path)) {
    let blocker: string | undefined;
    for (let dir = dirname(path); ; dir = dirname(dir)) {
      if (!postgresTest('-x', dir)) blocker = dir;
      if (dir === '/') break;
    }
    const why =
      blocker === undefined
        ? `the file itself is not ${options.execute === true ? 'executable' : 'readable'} by it`
        : `directory '${blocker}' does not let others traverse it`;
    throw new Error(
      `the ${POSTGRES_USER} OS user cannot ${options.execute === true ? 'execute' : 'read'} '${path}': ${why}\n` +
        `HINT: PostgreSQL runs pgstash (archive_command, restore_command) as '${POSTGRES_USER}', so the ` +
        'repository checkout, its node_modules and the node binary must be readable by it: clone the ' +
        'repository under a directory that others can traverse (such as /work or /tmp)' +
        (blocker === undefined ? '.' : `, or run 'chmod o+x ${blocker}'.`),
    );
  }
  checked.add(key);
}

function postgresTest(test: '-r' | '-x', path: string): boolean {
  const result = spawnSync('runuser', ['-u', POSTGRES_USER, '--', 'test', test, path], { stdio: 'ignore' });
  return result.status === 0;
}
