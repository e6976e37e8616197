// A stanza in a posix repository for unit tests of the repository model: stanza paths, archive.info and an empty
// backup.info written through Repository, encrypted or not.
import { newDbHistory, type DbHistory } from '../../src/repo/db-history.js';
import { Repository } from '../../src/repo/repository.js';

/** The cluster every such stanza is for. */
export const TEST_DB: DbHistory = newDbHistory({
  version: '15',
  systemId: 7n,
  catalogVersion: 202209061,
  controlVersion: 1300,
});

/** Stanza 'main' in a new repository at `path`, with an empty backup.info (encrypted: passphrase 'secret'). */
export async function emptyStanza(path: string, options: { encrypted?: boolean } = {}): Promise<Repository> {
  const encrypted = options.encrypted === true;
  const repo = await Repository.open(
    {
      index: 1,
      type: 'posix',
      path,
      cipherType: encrypted ? 'aes-256-gcm' : 'none',
      ...(encrypted ? { cipherPass: 'secret' } : {}),
    },
    'main',
  );
  if (encrypted) await repo.createKey();
  await repo.createStanzaPaths();
  await repo.writeArchiveInfo(TEST_DB);
  await repo.writeBackupInfo({ ...TEST_DB, backups: [] });
  return repo;
}
