// Refuses a repository inside the data directory: a backup would copy the repository into itself.
import { readlink, realpath } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { PgStashError } from '../common/errors.js';
import type { RepoOptions } from '../config/load.js';

/**
 * `path` with links resolved as far as they lead: a repository may not exist yet, and a link may point to where
 * it will be made.
 */
async function realOrResolved(path: string, depth = 0): Promise<string> {
  const absolute = resolve(path);
  try {
    return await realpath(absolute);
  } catch {
    const parent = dirname(absolute);
    if (parent === absolute || depth > 40) return absolute;
    const link = await readlink(absolute).catch(() => undefined);
    if (link !== undefined) return realOrResolved(resolve(parent, link), depth + 1);
    return resolve(await realOrResolved(parent, depth + 1), absolute.slice(parent.length + 1));
  }
}

/**
 * Fails with optionInvalidValue (32) naming the option when a posix repository is pg1-path or lies inside it:
 * every backup would copy the repository, earlier backups and archived WAL included, into the next one, and a
 * restore would bring back a stale copy of the repository inside the data directory.
 */
export async function checkRepoOutsideData(repos: readonly RepoOptions[], pgPath: string): Promise<void> {
  const data = await realOrResolved(pgPath);
  for (const repo of repos) {
    const location = await realOrResolved(repo.path);
    if (location === data || location.startsWith(`${data}${sep}`)) {
      throw new PgStashError(
        'optionInvalidValue',
        `repo${repo.index}-path '${repo.path}' is inside pg1-path '${pgPath}': each backup would copy the repository into itself`,
        { hint: 'put the repository outside the data directory' },
      );
    }
  }
}
