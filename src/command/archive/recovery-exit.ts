// archive-get's exit code for PostgreSQL in archive recovery: a failure must stop recovery, not end it early.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Exit code when the file is not in the archive: recovery probes for files that do not exist, quietly. */
export const ARCHIVE_GET_NOT_FOUND = 1;

/** Added to an error's code: PostgreSQL treats a restore_command exit status above 125 as fatal. */
export const STOP_RECOVERY_OFFSET = 128;

/**
 * True when the working directory is the data directory of a server in archive recovery that is not a standby.
 * PostgreSQL runs restore_command in the data directory; recovery.signal asks for archive recovery, and
 * standby.signal, which wins over it, for standby mode.
 */
export function inArchiveRecovery(cwd?: string): boolean {
  let dir: string;
  try {
    dir = cwd ?? process.cwd();
  } catch {
    // The working directory was removed: not a data directory in recovery.
    return false;
  }
  return existsSync(join(dir, 'recovery.signal')) && !existsSync(join(dir, 'standby.signal'));
}

/**
 * The exit code archive-get returns for `code`. PostgreSQL in archive recovery takes any other failure of
 * restore_command for "this file is not in the archive": it ends recovery there and, without a recovery target,
 * promotes, so a corrupt segment or an unreachable repository would silently cut recovery short and start a new
 * timeline without the rest of the archive. So when PostgreSQL runs archive-get in archive recovery, an error
 * exits 128 + its code: PostgreSQL stops recovery with that in its log, and once the archive is fixed, starting
 * the server again carries on from there. "Not found" (1) stays 1: that is the end of the archive. A standby
 * keeps the plain codes: it retries a failed fetch instead of ending recovery, and so does an `error` marked by
 * leaveToRecoveryTarget: PostgreSQL's recovery target keeps recovery from ending early without it.
 */
export function restoreCommandExitCode(code: number, cwd?: string, error?: unknown): number {
  if (code === 0 || code === ARCHIVE_GET_NOT_FOUND || code >= STOP_RECOVERY_OFFSET) return code;
  if (typeof error === 'object' && error !== null && guardedByTarget.has(error)) return code;
  return inArchiveRecovery(cwd) ? STOP_RECOVERY_OFFSET + code : code;
}

/** Errors PostgreSQL's recovery target guards recovery against (recovery-target-guard.ts): they exit plainly. */
const guardedByTarget = new WeakSet<object>();

/**
 * Marks `error` to exit with its plain code in archive recovery: the server recovers to a target, so it stops
 * unpromoted rather than end early if it needs the file (recovery-target-guard.ts says when that holds).
 */
export function leaveToRecoveryTarget<E extends object>(error: E): E {
  guardedByTarget.add(error);
  return error;
}
