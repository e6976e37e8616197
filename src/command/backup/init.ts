// What a backup checks before it starts (pgBackRest's backupInit): the stanza, the server, archiving.
import { PgStashError } from '../../common/errors.js';
import type { LoadedConfig } from '../../config/load.js';
import { readControlFile, type ControlData } from '../../postgres/control.js';
import type { PgSession } from '../../postgres/client.js';
import type { BackupInfo } from '../../repo/backup-info.js';
import { describeDb, sameCluster } from '../../repo/db-history.js';
import type { Repository } from '../../repo/repository.js';
import { checkArchiveSettings } from '../archive-settings.js';
import { checkServerRunsFrom } from '../server-check.js';

export interface BackupInit {
  /** The stanza's data key, undefined for an unencrypted repository. */
  readonly key: Buffer | undefined;
  readonly backupInfo: BackupInfo;
  /** The archive id this cluster's WAL goes to (read once: the archive wait looks there). */
  readonly archiveId: string;
  /** pg_control of the data directory backed up. */
  readonly control: ControlData;
}

/**
 * Checks that the stanza exists in `repo` for the cluster `session` is connected to, that this cluster runs
 * from `pgPath`, is a primary, and (with archive-check or archive-copy) archives its WAL into this stanza.
 */
export async function backupInit(
  config: LoadedConfig,
  repo: Repository,
  session: PgSession,
  pgPath: string,
): Promise<BackupInit> {
  const stanza = repo.stanza;
  const key = await repo.requireKey();
  const archiveInfo = await repo.requireArchiveInfo();
  const backupInfo = await repo.backups.requireInfo();
  const control = await readControlFile(pgPath);
  const server = {
    version: String(Math.floor((await session.serverVersionNum()) / 10000)),
    systemId: await session.systemIdentifier(),
  };
  await checkServerRunsFrom(session, { systemId: server.systemId, pgPath, control, port: config.pg.port });
  if (!sameCluster(backupInfo.current, server) || !sameCluster(archiveInfo.current, server)) {
    throw new PgStashError(
      'backupMismatch',
      `stanza '${stanza}' is for ${describeDb(backupInfo.current)}, the server is ${describeDb(server)}`,
    );
  }
  if (await session.isInRecovery()) {
    throw new PgStashError(
      'featureNotSupported',
      'backup from a standby is not supported yet: run it on the primary',
    );
  }
  // Before anything is copied: a backup whose WAL never reaches this stanza would fail only at its very end.
  if (config.get('archive-check') || config.get('archive-copy'))
    await checkArchiveSettings(session, stanza, { notPgstash: 'warn' });
  return { key, backupInfo, archiveId: repo.wal.currentIdIn(archiveInfo), control };
}
