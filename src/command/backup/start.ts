// Starts the backup on the server (pgBackRest's backupStart): pg_backup_start and what is read around it.
import { log } from '../../common/log.js';
import type { PgSession, Tablespace } from '../../postgres/client.js';
import { formatLsn } from '../../postgres/lsn.js';

/** What the server said when the backup started. */
export interface BackupStarted {
  readonly lsn: bigint;
  readonly walFile: string;
  readonly timeline: number;
  readonly tablespaces: readonly Tablespace[];
  /** How a restored server will read a recovery target time (restore chooses a backup for --type=time). */
  readonly timezone: string | undefined;
  readonly timezoneAbbreviations: string | undefined;
  /** The next transaction id before the start (restore chooses a backup for --type=xid with it). */
  readonly xidStart: string;
}

/** Runs pg_backup_start for backup `label` on `session`, which must also run backupStop. */
export async function backupStart(session: PgSession, label: string, fast: boolean): Promise<BackupStarted> {
  const tablespaces = await session.tablespaces();
  const timezone = await session.serverSetting('TimeZone');
  const timezoneAbbreviations = await session.serverSetting('timezone_abbreviations');
  const xidStart = await session.nextXid();
  // Without --start-fast the server waits for its next regular checkpoint, which can take minutes
  // (checkpoint_timeout x checkpoint_completion_target): say so before the wait, as pgBackRest does.
  log.info(
    fast
      ? 'backup begins after the requested immediate checkpoint completes'
      : 'backup begins after the next regular checkpoint completes (--start-fast requests an immediate one)',
  );
  const start = await session.backupStart(`pgstash backup ${label}`, fast);
  log.info(`backup start: label ${label}, WAL ${start.walFile}, lsn ${formatLsn(start.lsn)}`);
  return { ...start, tablespaces, timezone, timezoneAbbreviations, xidStart };
}
