// Stops the backup on the server (pgBackRest's backupStop) and stores the files pg_backup_stop returns.
import { log } from '../../common/log.js';
import { chunksOf } from '../../io/chunker.js';
import type { PgSession } from '../../postgres/client.js';
import { formatLsn } from '../../postgres/lsn.js';
import type { FileStorage, ManifestFile } from '../../repo/manifest.js';
import type { CompressSettings, Repository } from '../../repo/repository.js';
import type { CopiedTree } from './copy-files.js';
import { ownerOf } from './copy-files.js';
import { putGenerated, type GeneratedFileSettings } from './generated-file.js';

export interface BackupStopped {
  readonly lsn: bigint;
  readonly stopped: Date;
  /** The next transaction id just after the stop: any transaction from it on began after the backup. */
  readonly xidStop: string;
  /** backup_label and tablespace_map, as stored. */
  readonly files: readonly ManifestFile[];
  /** How later generated files (archived WAL) are stored: owned like the data directory, mode 0600. */
  readonly generated: GeneratedFileSettings;
}

/** Runs pg_backup_stop and stores backup_label (and tablespace_map, when there are tablespaces) in backup `label`. */
export async function backupStop(
  session: PgSession,
  repo: Repository,
  label: string,
  tree: CopiedTree,
  storing: { readonly compress: CompressSettings; readonly storage: FileStorage },
): Promise<BackupStopped> {
  const stop = await session.backupStop();
  const stopped = new Date();
  const xidStop = await session.nextXid();
  log.info(`backup stop: lsn ${formatLsn(stop.lsn)}`);
  const dataOwner =
    tree.paths.find((path) => path.name === 'pg_data') ?? ownerOf({ mode: 0o700, uid: 0, gid: 0 });
  const generated: GeneratedFileSettings = {
    ...storing,
    owner: { ...dataOwner, mode: 0o600 },
    mtime: Math.floor(stopped.getTime() / 1000),
  };
  const files = [
    await putGenerated(repo, label, 'pg_data/backup_label', chunksOf(Buffer.from(stop.labelFile)), generated),
  ];
  if (stop.tablespaceMap !== null && stop.tablespaceMap !== '') {
    files.push(
      await putGenerated(
        repo,
        label,
        'pg_data/tablespace_map',
        chunksOf(Buffer.from(stop.tablespaceMap)),
        generated,
      ),
    );
  }
  return { lsn: stop.lsn, stopped, xidStop, files, generated };
}
