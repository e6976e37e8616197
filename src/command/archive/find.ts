// Looks up a WAL file in a repository's archive, whatever checksum and compression it was stored with.
import { parseArchivedWalName, repoLayout } from '../../repo/layout.js';
import type { Repository } from '../../repo/repository.js';

/** The archived copy of `walFileName` under archive id `id`, with the SHA-256 its name records, if any. */
export async function findArchivedWal(
  repo: Repository,
  id: string,
  walFileName: string,
): Promise<{ path: string; sha256: string } | undefined> {
  const dir = repoLayout.walDirectory(repo.stanza, id, walFileName);
  for await (const entry of repo.driver.list(dir, { prefix: `${walFileName}-` })) {
    const parsed = parseArchivedWalName(entry.name);
    if (entry.type === 'file' && parsed?.walFileName === walFileName) {
      return { path: `${dir}/${entry.name}`, sha256: parsed.sha256 };
    }
  }
  return undefined;
}
