// Refuses a repository inside the data directory: a backup would copy the repository into itself.
import { sep } from 'node:path';
import { PgStashError } from '../common/errors.js';
import { realOrResolved } from '../common/real-path.js';
import type { RepoOptions } from '../config/load.js';

/**
 * Fails with optionInvalidValue (32) naming the option when a posix repository is pg1-path or lies inside it:
 * every backup would copy the repository, earlier backups and archived WAL included, into the next one, and a
 * restore would bring back a stale copy of the repository inside the data directory.
 */
export async function checkRepoOutsideData(repos: readonly RepoOptions[], pgPath: string): Promise<void> {
  const data = await realOrResolved(pgPath);
  for (const repo of repos) {
    // Only a posix repository has a path on this host; an object store's repoN-path is a prefix in a bucket.
    if (repo.type !== 'posix') continue;
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
