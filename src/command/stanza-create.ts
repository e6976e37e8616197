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

/** What stanza-create did on one repository: created it, found it valid, or wrote a missing info file again. */
type Outcome = 'created' | 'exists' | { readonly missing: readonly string[]; readonly addedBack: number };

async function createOnRepository(repo: Repository, control: ControlData): Promise<Outcome> {
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
    // Re-running is harmless, and repairs a missing half (an interrupted earlier stanza-create, a lost file).
    if (archive === undefined) await repo.writeArchiveInfo(existing);
    if (backup !== undefined)
      return archive === undefined ? { missing: ['archive.info'], addedBack: 0 } : 'exists';
    // backup.info lost with backups in the repository: they are listed again from their manifests, not left
    // unlisted for the next expire to take for leftovers.
    const empty = { ...existing, backups: [] };
    await repo.writeBackupInfo(empty);
    const { added } = await repo.backups.reconcile(empty);
    // Here archive.info exists (with neither, the stanza is created below).
    return { missing: ['backup.info'], addedBack: added.length };
  }
  const history = newDbHistory({
    version: control.pgVersion,
    systemId: control.systemId,
    catalogVersion: control.catalogVersion,
    controlVersion: control.controlVersion,
  });
  await repo.createStanzaPaths();
  await repo.writeArchiveInfo(history);
  const empty = { ...history, backups: [] };
  await repo.writeBackupInfo(empty);
  // Both info files lost, backups left: listed again too.
  const { added } = await repo.backups.reconcile(empty);
  return added.length === 0
    ? 'created'
    : { missing: ['archive.info', 'backup.info'], addedBack: added.length };
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
      const line = (where: string): string =>
        result === 'created' || result === 'exists'
          ? `stanza '${stanza}' ${result === 'created' ? 'created' : 'already exists and is valid'} on ${where}`
          : `stanza '${stanza}' repaired on ${where}: ${result.missing.join(' and ')} ${result.missing.length > 1 ? 'were' : 'was'} missing` +
            (result.addedBack > 0
              ? `; the ${result.addedBack} complete backups found in the repository are listed again`
              : '');
      context.out(`${line(`${repo.name} (${repo.location})`)}\n`);
      log.info(line(repo.name), {
        systemId: control.systemId,
        version: control.pgVersion,
      });
    }
  } finally {
    await lock.release();
  }
  return 0;
}
