// stanza-create: records the cluster (version, system id) in archive.info and backup.info of every repository.
import { PgStashError } from '../common/errors.js';
import { acquireLock } from '../common/lock.js';
import { log } from '../common/log.js';
import { readControlFile, type ControlData } from '../postgres/control.js';
import { describeDb, newDbHistory, sameCluster, type DbHistory } from '../repo/db-history.js';
import { openRepositories, type Repository } from '../repo/repository.js';
import type { CommandContext } from './context.js';
import { checkRepoOutsideData } from './repo-placement.js';
import { checkServerMatchesControl } from './server-check.js';

async function createOnRepository(repo: Repository, control: ControlData): Promise<'created' | 'exists'> {
  // Asked of the store: reading archive.info would show an encrypted stanza too, but not one whose stanza-create
  // stopped after the key file, which this one would then complete in clear.
  await repo.refuseEncryptedStanza();
  const key = await repo.key();
  if (repo.encrypted && key === undefined) await repo.createKey();
  const archive = await repo.archiveInfo();
  const backup = await repo.backupInfo();
  const cluster = { version: control.pgVersion, systemId: control.systemId };
  const existing: DbHistory | undefined = backup ?? archive;
  if (existing !== undefined) {
    for (const info of [archive, backup]) {
      if (info !== undefined && !sameCluster(info.current, cluster)) {
        throw new PgStashError(
          'fileInvalid',
          `${repo.name} stanza '${repo.stanza}' belongs to another cluster (${describeDb(info.current)}), not this one (${describeDb(cluster)})`,
          { hint: `use another stanza name, or another ${repo.name}-path` },
        );
      }
    }
    // Re-running is harmless, and repairs a missing half (an interrupted earlier stanza-create).
    if (archive === undefined) await repo.writeArchiveInfo(existing);
    if (backup === undefined) await repo.writeBackupInfo({ ...existing, backups: [] });
    return 'exists';
  }
  const history = newDbHistory({
    version: control.pgVersion,
    systemId: control.systemId,
    catalogVersion: control.catalogVersion,
    controlVersion: control.controlVersion,
  });
  await repo.createStanzaPaths();
  await repo.writeArchiveInfo(history);
  await repo.writeBackupInfo({ ...history, backups: [] });
  return 'created';
}

export async function stanzaCreate(context: CommandContext): Promise<number> {
  const { config } = context;
  const stanza = config.require('stanza');
  const pgPath = config.require('pg1-path');
  await checkRepoOutsideData(config.repos, pgPath);
  const control = await readControlFile(pgPath);
  await checkServerMatchesControl(config, control, { required: false });
  const lock = await acquireLock({
    lockPath: config.get('lock-path'),
    stanza,
    type: 'backup',
  });
  try {
    const repos = await openRepositories(config.repos, stanza);
    for (const repo of repos) {
      const result = await createOnRepository(repo, control);
      const what = result === 'created' ? 'created' : 'already exists and is valid';
      context.out(`stanza '${stanza}' ${what} on ${repo.name} (${repo.location})\n`);
      log.info(`stanza '${stanza}' ${what} on ${repo.name}`, {
        systemId: control.systemId,
        version: control.pgVersion,
      });
    }
  } finally {
    await lock.release();
  }
  return 0;
}
