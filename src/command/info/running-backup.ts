// What `info` says of a backup in progress: found by its progress record in the repository, judged running or not.
//
// A record only says what a backup had done when it wrote it; a backup killed with kill -9 leaves its last one.
// On the backup's own host the stanza's backup lock tells: the backup runs while the process that wrote the record
// holds it. Another host's lock cannot be seen from here, so its record is shown with its age, and as overdue when
// it is much older than the interval it is rewritten at.
import { hostname } from 'node:os';
import { lockHolder } from '../../common/lock.js';
import { formatBytes } from '../../common/size.js';
import type { BackupInfo } from '../../repo/backup-info.js';
import type { BackupProgressRecord } from '../../repo/backup-progress.js';
import type { Repository } from '../../repo/repository.js';
import { formatEta, formatPercent, formatRate, percentOf } from '../progress/figures.js';

export interface RunningBackup {
  readonly record: BackupProgressRecord;
  /** Whether the backup runs on this host (then it is known to run) or on another one (then as of `ageSeconds` ago). */
  readonly thisHost: boolean;
  /** Seconds since the record was written (by the clocks of both hosts). */
  readonly ageSeconds: number;
  /** Another host's record not rewritten for far longer than its interval: that backup may have stopped. */
  readonly overdue: boolean;
  readonly percent: number;
}

/** A record older than this many intervals (and at least OVERDUE_MIN_SECONDS) is overdue. */
const OVERDUE_INTERVALS = 3;
const OVERDUE_MIN_SECONDS = 60;

/**
 * The backup running into `repo`, from the newest progress record among the backups backup.info does not list;
 * undefined when there is none, or when it is this host's and its process no longer holds the backup lock.
 */
export async function findRunningBackup(
  repo: Repository,
  info: BackupInfo,
  lockPath: string,
  now = Date.now(),
): Promise<RunningBackup | undefined> {
  for (const label of (await repo.backups.incomplete(info)).reverse()) {
    const record = await repo.backups.progress(label);
    if (record === undefined) continue;
    const thisHost = record.host === hostname();
    if (thisHost) {
      const holder = await lockHolder({ lockPath, stanza: repo.stanza, type: 'backup' });
      if (holder?.pid !== record.pid) return undefined;
    }
    const ageSeconds = Math.max(0, Math.round((now - record.updated) / 1000));
    return {
      record,
      thisHost,
      ageSeconds,
      overdue: !thisHost && ageSeconds > Math.max(OVERDUE_MIN_SECONDS, OVERDUE_INTERVALS * record.interval),
      percent: percentOf(record.bytes.done, record.bytes.total),
    };
  }
  return undefined;
}

/** `12s`, `4m05s`, `2h03m`. */
function formatAge(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** The text line under its repository: which backup, where, and its figures. */
export function runningBackupLine(running: RunningBackup, repo: number): string {
  const { record } = running;
  const where = running.thisHost
    ? `running (pid ${record.pid})`
    : `running on host '${record.host}' (pid ${record.pid})`;
  const figures =
    `${formatPercent(running.percent)} of ${formatBytes(record.bytes.total)}, ` +
    `${formatRate(record.rate ?? undefined)}, ETA ${formatEta(record.eta ?? undefined)}, ` +
    `${record.files.done}/${record.files.total} files`;
  const age = running.overdue
    ? `, last updated ${formatAge(running.ageSeconds)} ago: it may have stopped`
    : `, updated ${formatAge(running.ageSeconds)} ago`;
  return `    repo${repo}: backup ${record.label} ${where}: ${figures}${age}`;
}

/** `backup-running` of info's JSON (docs/info-json.md). */
export function runningBackupJson(running: RunningBackup, repo: number): unknown {
  const { record } = running;
  return {
    label: record.label,
    'repo-key': repo,
    host: record.host,
    pid: record.pid,
    'this-host': running.thisHost,
    percent: running.percent,
    size: record.bytes.total,
    'size-cplt': record.bytes.done,
    'file-count': record.files.total,
    'file-cplt': record.files.done,
    rate: record.rate,
    eta: record.eta,
    timestamp: { start: Math.floor(record.started / 1000), update: Math.floor(record.updated / 1000) },
    age: running.ageSeconds,
    overdue: running.overdue,
  };
}
