// Chooses the backup set a restore starts from: --set, or the newest one that can reach the recovery target.
import { PgStashError, fail } from '../../common/errors.js';
import { parseLsn } from '../../postgres/lsn.js';
import {
  formatInstant,
  parseRecoveryTime,
  resolveRecoveryTime,
  type ParsedTime,
  type ResolvedTime,
} from '../../postgres/recovery-time.js';
import type { BackupRecord } from '../../repo/backup-info.js';

export interface SelectOptions {
  readonly set?: string | undefined;
  readonly type: string;
  readonly target?: string | undefined;
  /** --recovery-option settings: a timezone set there is the one the restored server reads a time with. */
  readonly recoveryOptions?: Readonly<Record<string, string>> | undefined;
}

export interface Selection {
  readonly backup: BackupRecord;
  /** The value for the recovery target setting: for a time, the resolved instant with an explicit offset. */
  readonly target?: string | undefined;
  /** What was chosen and why, for the DBA. */
  readonly notes: readonly string[];
}

const TWO_32 = 1n << 32n;

export function selectBackup(backups: readonly BackupRecord[], options: SelectOptions): Selection {
  const newestFirst = [...backups].reverse();
  if (newestFirst.length === 0) {
    throw new PgStashError('backupSetInvalid', 'no backup set found to restore', {
      hint: "take one with 'pgstash backup' first",
    });
  }
  const { target } = options;
  // 'latest' (the default, as in pgBackRest) means: choose by the recovery target.
  if (options.set !== undefined && options.set !== 'latest') {
    const chosen = backups.find((backup) => backup.label === options.set);
    if (chosen === undefined) {
      throw new PgStashError('backupSetInvalid', `backup set '${options.set}' is not valid`, {
        hint: "'pgstash info' lists the backup sets",
      });
    }
    if (options.type === 'time' && target !== undefined) {
      const resolved = resolveRecoveryTime(parseRecoveryTime(target), settingsOf(chosen, options));
      const notes = [describeTime(target, resolved, chosen, options)];
      // A time target only stops at a commit: one during the backup stops before consistency (FATAL), but an
      // idle end of backup lets it through, so this is said, not refused.
      if (chosen.timestampStop * 1_000_000 >= resolved.micros) {
        notes.push(
          `backup set ${chosen.label} ended ${formatInstant(chosen.timestampStop * 1e6)}, not before the target: ` +
            `if a transaction committed between the target and that time, PostgreSQL stops with FATAL ` +
            `("requested recovery stop point is before consistent recovery point"); an older set avoids it`,
        );
      }
      return { backup: chosen, target: resolved.setting, notes };
    }
    if (options.type === 'lsn' && target !== undefined) requireEndedBefore(chosen, target);
    return { backup: chosen, target, notes: [] };
  }
  if (target === undefined) return { backup: newestFirst[0] as BackupRecord, notes: [] };
  switch (options.type) {
    case 'time':
      return selectForTime(newestFirst, parseRecoveryTime(target), options);
    case 'lsn':
      return selectForLsn(newestFirst, target);
    case 'xid':
      return selectForXid(newestFirst, target);
    case 'name': {
      const chosen = newestFirst[0] as BackupRecord;
      const note =
        `restore point '${target}': pgstash cannot tell where a restore point is without reading the WAL, so it ` +
        `restores the newest backup set ${chosen.label} (ended ${formatInstant(chosen.timestampStop * 1e6)}, lsn ` +
        `${chosen.lsnStop}). If the restore point was created before that, PostgreSQL stops with FATAL: restore ` +
        `an older set with --set=<label> ('pgstash info' lists them)`;
      return { backup: chosen, target, notes: [note] };
    }
    default:
      return { backup: newestFirst[0] as BackupRecord, target, notes: [] };
  }
}

/** The restored server's timezone: set by --recovery-option (setting names are case-insensitive), or recorded. */
function timezoneOf(backup: BackupRecord, options: SelectOptions): string | undefined {
  const set = Object.entries(options.recoveryOptions ?? {}).find(
    ([name]) => name.toLowerCase() === 'timezone',
  );
  return set?.[1] ?? backup.timezone;
}

/** What the restored server reads a time with: the backup's recorded settings, or the timezone the restore sets. */
function settingsOf(backup: BackupRecord, options: SelectOptions) {
  return {
    timezone: timezoneOf(backup, options),
    timezoneAbbreviations: backup.timezoneAbbreviations,
  };
}

function describeTime(
  target: string,
  resolved: ResolvedTime,
  backup: BackupRecord,
  options: SelectOptions,
): string {
  const zone = timezoneOf(backup, options);
  const local =
    zone === undefined ? '' : `, ${formatInstant(resolved.micros, zone)} in the cluster's timezone ${zone}`;
  return (
    `recovery target time '${target}' (${resolved.zoneSource}) is ${resolved.setting} in UTC${local}; ` +
    `written as recovery_target_time = '${resolved.setting}'`
  );
}

/** The newest backup that ended before the target time, read in that backup's cluster's timezone. */
function selectForTime(
  newestFirst: readonly BackupRecord[],
  parsed: ParsedTime,
  options: SelectOptions,
): Selection {
  let oldest: ResolvedTime | undefined;
  for (const backup of newestFirst) {
    const resolved = resolveRecoveryTime(parsed, settingsOf(backup, options));
    oldest = resolved;
    if (backup.timestampStop * 1_000_000 < resolved.micros) {
      const why = `backup set ${backup.label} chosen: the newest that ended before the target (it ended ${formatInstant(backup.timestampStop * 1e6)})`;
      return {
        backup,
        target: resolved.setting,
        notes: [describeTime(parsed.text, resolved, backup, options), why],
      };
    }
  }
  const first = newestFirst.at(-1) as BackupRecord;
  return fail(
    'backupSetInvalid',
    `unable to find a backup set with stop time before target '${parsed.text}' (${oldest === undefined ? '' : `${oldest.setting}, `}the oldest backup ${first.label} ended ${formatInstant(first.timestampStop * 1e6)})`,
    { hint: 'a backup cannot be restored to a time before it ended' },
  );
}

/**
 * Refuses --set with an lsn target before the set's stop: replay reaches the target before the backup is
 * consistent, and PostgreSQL stops with FATAL on every start; the restore would look usable and never be.
 */
function requireEndedBefore(backup: BackupRecord, target: string): void {
  if (parseLsn(backup.lsnStop) <= parseLsn(target)) return;
  fail(
    'backupSetInvalid',
    `backup set ${backup.label} stopped at lsn ${backup.lsnStop}, after target '${target}': recovery cannot stop before the backup is consistent`,
    {
      hint: "restore an older set that stopped at or before the target ('pgstash info' lists them), or omit --set",
    },
  );
}

function selectForLsn(newestFirst: readonly BackupRecord[], target: string): Selection {
  const lsn = parseLsn(target);
  const chosen = newestFirst.find((backup) => parseLsn(backup.lsnStop) <= lsn);
  if (chosen === undefined) {
    const first = newestFirst.at(-1) as BackupRecord;
    fail(
      'backupSetInvalid',
      `unable to find a backup set with stop lsn at or before target '${target}' (the oldest, ${first.label}, stopped at ${first.lsnStop})`,
      { hint: 'a backup cannot be restored to a point before it ended' },
    );
  }
  return {
    backup: chosen,
    target,
    notes: [
      `backup set ${chosen.label} chosen: the newest that ended at or before lsn ${target} (it ended at ${chosen.lsnStop})`,
    ],
  };
}

/**
 * A 32-bit transaction id (as pg_waldump, xmin and txid_current() on a young cluster show it) widened to the
 * 64-bit id nearest to `reference`, the way PostgreSQL widens an xid of the current epoch; a value above 2^32
 * already carries its epoch.
 */
export function widenXid(xid: bigint, reference: bigint): bigint {
  if (xid >= TWO_32) return xid;
  let full = (reference / TWO_32) * TWO_32 + xid;
  if (full > reference + TWO_32 / 2n) full -= TWO_32;
  else if (full < reference - TWO_32 / 2n) full += TWO_32;
  return full < 0n ? xid : full;
}

/**
 * The newest backup that ended before the target transaction began: one whose recorded next transaction id at its
 * stop is at or below the target. A transaction already running when a backup ended may commit after it, but
 * whether it did only the WAL tells: such a backup is passed over for an older one (a longer replay, never a
 * FATAL), and the message says how to take it anyway. A backup that records no transaction ids (an earlier
 * pgstash) is taken as it is, with a note.
 */
function selectForXid(newestFirst: readonly BackupRecord[], target: string): Selection {
  if (!/^[0-9]{1,20}$/.test(target)) {
    fail('optionInvalidValue', `invalid --target '${target}' for --type=xid`, {
      hint: 'a transaction id is a positive integer, e.g. 1234',
    });
  }
  const recorded = newestFirst.find((backup) => backup.xidStop !== undefined)?.xidStop;
  const xid = widenXid(BigInt(target), BigInt(recorded ?? 0));
  for (const backup of newestFirst) {
    if (backup.xidStop === undefined) {
      const note =
        `backup set ${backup.label} chosen for transaction ${target}: it does not record which transactions it ` +
        `spans (taken by an earlier pgstash). If the transaction committed before it ended, PostgreSQL stops with ` +
        `FATAL: restore an older set with --set=<label>`;
      return { backup, target, notes: [note] };
    }
    if (xid >= BigInt(backup.xidStop)) {
      const note = `backup set ${backup.label} chosen: the newest that ended before transaction ${target} began (transactions from ${backup.xidStop} on began after it ended)`;
      return { backup, target, notes: [note] };
    }
  }
  const first = newestFirst.at(-1) as BackupRecord;
  return fail(
    'backupSetInvalid',
    `unable to find a backup set that ended before transaction ${target} began (the oldest, ${first.label}, ended when transaction ids had reached ${first.xidStop ?? 'an unrecorded value'})`,
    {
      hint: `recovery can only stop at a transaction that commits after the backup ended; if transaction ${target} was still running when ${first.label} ended, restore it with --set=${first.label}`,
    },
  );
}
