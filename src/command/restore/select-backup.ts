// Chooses the backup set a restore starts from: --set, or the newest one that can reach the recovery target.
import { PgStashError } from '../../common/errors.js';
import { parseLsn } from '../../postgres/lsn.js';
import type { BackupRecord } from '../../repo/backup-info.js';

/**
 * Parses a PostgreSQL timestamp such as '2026-11-21 10:15:00+00', '2026-11-21 10:15:00.123456+05:30' or
 * '2026-11-21T10:15:00Z' into epoch milliseconds. Without a zone, local time is assumed (as pgBackRest does).
 */
export function parsePgTimestamp(text: string): number | undefined {
  const match =
    /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i.exec(
      text.trim(),
    );
  if (match === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = match;
  const ms = Math.round(Number(frac ?? 0) * 1000);
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), ms] as const;
  if (zone === undefined) {
    const local = new Date(...parts).getTime();
    return Number.isNaN(local) ? undefined : local;
  }
  let offsetMinutes = 0;
  if (!/^(Z|UTC)$/i.test(zone)) {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || 0));
  }
  return Date.UTC(...parts) - offsetMinutes * 60_000;
}

export interface SelectOptions {
  readonly set?: string | undefined;
  readonly type: string;
  readonly target?: string | undefined;
}

export function selectBackup(backups: readonly BackupRecord[], options: SelectOptions): BackupRecord {
  // 'latest' (the default, as in pgBackRest) means: choose by the recovery target.
  if (options.set !== undefined && options.set !== 'latest') {
    const chosen = backups.find((backup) => backup.label === options.set);
    if (chosen === undefined) {
      throw new PgStashError('backupSetInvalid', `backup set '${options.set}' is not valid`, {
        hint: "'pgstash info' lists the backup sets",
      });
    }
    return chosen;
  }
  const newestFirst = [...backups].reverse();
  if (newestFirst.length === 0) {
    throw new PgStashError('backupSetInvalid', 'no backup set found to restore', {
      hint: "take one with 'pgstash backup' first",
    });
  }
  if (options.type === 'time' && options.target !== undefined) {
    const target = parsePgTimestamp(options.target);
    if (target === undefined) {
      throw new PgStashError(
        'optionInvalidValue',
        `'${options.target}' is not a valid time for 'target' option`,
        {
          hint: "use a PostgreSQL timestamp such as '2026-11-21 10:15:00+00'",
        },
      );
    }
    const chosen = newestFirst.find((backup) => backup.timestampStop * 1000 < target);
    if (chosen === undefined) {
      throw new PgStashError(
        'backupSetInvalid',
        `unable to find a backup set with stop time before target '${options.target}'`,
        {
          hint: 'the oldest backup finished after the target: a backup cannot be restored to a time before it ended',
        },
      );
    }
    return chosen;
  }
  if (options.type === 'lsn' && options.target !== undefined) {
    const target = parseLsn(options.target);
    const chosen = newestFirst.find((backup) => parseLsn(backup.lsnStop) <= target);
    if (chosen === undefined) {
      throw new PgStashError(
        'backupSetInvalid',
        `unable to find a backup set with stop lsn at or before target '${options.target}'`,
      );
    }
    return chosen;
  }
  return newestFirst[0] as BackupRecord;
}
