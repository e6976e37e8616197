// Which backup a new one builds on (pgBackRest's backupInit/backupPrior): today every backup is a full one.
import { PgStashError } from '../../common/errors.js';
import type { BackupInfo, BackupRecord, BackupType } from '../../repo/backup-info.js';

/** The backup to take: its type and the backup it depends on (none for a full). */
export interface PriorSelection {
  readonly type: BackupType;
  readonly prior: BackupRecord | undefined;
}

/** Refuses a requested --type that cannot be taken, before anything else runs. */
export function checkBackupType(type: string): void {
  if (type !== 'full') {
    throw new PgStashError(
      'featureNotSupported',
      `backup --type=${type} is not supported yet: use --type=full`,
    );
  }
}

/**
 * The type and prior of the backup to take, from the stanza's complete backups (`_info`). Only full backups
 * exist yet, so there is never a prior; diff and incr choose theirs here.
 */
export function selectPrior(type: string, _info: BackupInfo): PriorSelection {
  checkBackupType(type);
  return { type: 'full', prior: undefined };
}
