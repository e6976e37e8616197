// Repository options with the table defaults, and a stanza in a posix repository for unit tests of the repository
// model: stanza paths, archive.info and an empty backup.info written through Repository, encrypted or not.
import { OPTIONS } from '../../src/config/definition.js';
import type { RepoOptions } from '../../src/config/load.js';
import { fieldName } from '../../src/config/option-types.js';
import { newDbHistory, type DbHistory } from '../../src/repo/db-history.js';
import { Repository } from '../../src/repo/repository.js';

/** The cluster every such stanza is for. */
export const TEST_DB: DbHistory = newDbHistory({
  version: '15',
  systemId: 7n,
  catalogVersion: 202209061,
  controlVersion: 1300,
});

/**
 * A repository's options as the loader gives them when only its path is set: every repo option's table default
 * (type, cipher, retention types ...), then `set`. Index 1 unless `set` says otherwise.
 */
export function repoOptions(path: string, set: Partial<RepoOptions> = {}): RepoOptions {
  const defaults: Record<string, unknown> = { index: 1 };
  for (const def of OPTIONS)
    if (def.indexed === 'repo' && def.default !== undefined) defaults[fieldName(def)] = def.default;
  return { ...defaults, path, ...set } as RepoOptions;
}

/** Stanza 'main' in a new repository at `path`, with an empty backup.info (encrypted: passphrase 'secret'). */
export async function emptyStanza(path: string, options: { encrypted?: boolean } = {}): Promise<Repository> {
  const encrypted = options.encrypted === true;
  const repo = await Repository.open(
    repoOptions(path, encrypted ? { cipherType: 'aes-256-gcm', cipherPass: 'secret' } : {}),
    'main',
  );
  if (encrypted) await repo.createKey();
  await repo.createStanzaPaths();
  await repo.writeArchiveInfo(TEST_DB);
  await repo.writeBackupInfo({ ...TEST_DB, backups: [] });
  return repo;
}
