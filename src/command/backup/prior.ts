// Which backup a new one builds on (pgBackRest's backupInit/backupPrior): diff on the newest full, incr on the
// newest backup, and a full (with a warning saying why) when no usable prior exists.
import { log } from '../../common/log.js';
import type { BackupInfo, BackupRecord, BackupType } from '../../repo/backup-info.js';

/** The backup to take: its type and the backup it depends on (none for a full). */
export interface PriorSelection {
  readonly type: BackupType;
  readonly prior: BackupRecord | undefined;
  /** Why a diff or incr became a full (also logged as a warning). */
  readonly fullBecause?: string;
}

/** What the repository stores new files with now: a prior stored otherwise cannot be a base. */
export interface PriorContext {
  /** The repository is encrypted (repo cipher-type aes-256-gcm). */
  readonly encrypted: boolean;
}

/**
 * The type and prior of the backup to take, from the stanza's complete backups. Only backups of the stanza's
 * current cluster (backup.info's current db: system id and version) are candidates; a full is the base of every
 * chain, so without one of this cluster a diff or incr becomes a full. A prior whose cipher differs from the
 * repository's (none -> aes) forces a full: its files could not be referenced under the new cipher.
 */
export function selectPrior(type: BackupType, info: BackupInfo, context: PriorContext): PriorSelection {
  if (type === 'full') return { type, prior: undefined };
  const own = info.backups.filter((backup) => backup.dbId === info.current.id);
  const full = own.findLast((backup) => backup.type === 'full');
  let reason: string | undefined;
  let prior: BackupRecord | undefined;
  if (full === undefined) {
    const others = info.backups.length - own.length;
    reason =
      others > 0
        ? `no prior full backup of the current cluster exists (${others} of another cluster cannot be a base)`
        : 'no prior backup exists';
  } else {
    // Every backup after the newest full builds on it (directly or through others of this cluster).
    prior = type === 'diff' ? full : own.at(-1);
    if (prior !== undefined && prior.encrypted !== context.encrypted) {
      reason =
        `prior backup ${prior.label} is ${prior.encrypted ? 'encrypted' : 'not encrypted'} and the repository ` +
        `now ${context.encrypted ? 'is' : 'is not'} (cipher changed)`;
      prior = undefined;
    }
  }
  if (prior === undefined) {
    const because = reason ?? 'no prior backup exists';
    log.warn(`${because}: ${type} backup has been changed to full`);
    return { type: 'full', prior: undefined, fullBecause: because };
  }
  return { type, prior };
}
