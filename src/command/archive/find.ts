// Looks up a WAL file in a repository's archive, whatever checksum and compression it was stored with.
import { PgStashError } from '../../common/errors.js';
import { sameCluster } from '../../repo/db-history.js';
import { archiveId, parseArchivedWalName, repoLayout } from '../../repo/layout.js';
import type { Repository } from '../../repo/repository.js';

/**
 * The archive ids of the repository's current cluster, newest first: after a stanza upgrade the same cluster's
 * older WAL stays under its old id.
 */
export async function clusterArchiveIds(repo: Repository): Promise<string[]> {
  const info = await repo.requireArchiveInfo();
  return info.history
    .filter((db) => sameCluster(db, info.current))
    .reverse()
    .map((db) => archiveId(db.version, db.id));
}

/**
 * The archived copy of `walFileName` under archive id `id`, with the SHA-256 its name records, if any.
 *
 * Copies with different content (two clusters, or two primaries after a failover, archiving to one stanza; or
 * two pushes racing) fail with archiveDuplicate (45) naming them: which one recovery needs cannot be told, and
 * taking either silently could replay the wrong history. Copies of the same content (stored again with another
 * compression) are one: the first by name is returned, the same on every call.
 */
export async function findArchivedWal(
  repo: Repository,
  id: string,
  walFileName: string,
): Promise<{ path: string; sha256: string } | undefined> {
  const dir = repoLayout.walDirectory(repo.stanza, id, walFileName);
  const copies: { name: string; sha256: string }[] = [];
  for await (const entry of repo.driver.list(dir, { prefix: `${walFileName}-` })) {
    const parsed = parseArchivedWalName(entry.name);
    if (entry.type === 'file' && parsed?.walFileName === walFileName)
      copies.push({ name: entry.name, sha256: parsed.sha256 });
  }
  copies.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const [first] = copies;
  if (first === undefined) return undefined;
  if (copies.some((copy) => copy.sha256 !== first.sha256)) {
    throw new PgStashError(
      'archiveDuplicate',
      `WAL file '${walFileName}' is in the ${repo.name} archive with different contents: ${copies.map((copy) => copy.name).join(', ')}`,
      {
        hint: "are two clusters or two primaries archiving to this stanza? remove the copy that is not this cluster's from the repository",
      },
    );
  }
  return { path: `${dir}/${first.name}`, sha256: first.sha256 };
}
