// The new backup's label (pgBackRest's backupLabelCreate): from its start time, later than every label before it.
import { setTimeout as sleep } from 'node:timers/promises';
import { PgStashError } from '../../common/errors.js';
import type { BackupInfo, BackupType } from '../../repo/backup-info.js';
import { backupLabel } from '../../repo/label.js';
import type { Repository } from '../../repo/repository.js';

/**
 * A label for a backup of `type` and the time it starts, which the label names: the next whole second, not waited
 * for here. No file is read before it (copy-files.ts waits with untilStarted once the data directory is listed and
 * the workers have started, after pg_backup_start's checkpoint: the wait, half a second on average, costs only
 * what those do not fill). Starting on a second boundary is what lets the next diff or incr trust mtimes
 * (prior-reuse.ts): every file modified before the start has an mtime below the start second, and a write after
 * it, even one in the second a file was copied, has an mtime at or above it. Without it, files written in the
 * second before the backup began (a cluster just restored or created, the checkpoint's writes) would all be
 * copied again by the next incr. pgBackRest waits the same way, after its checkpoint too.
 *
 * Labels are local time, as pgBackRest's, and must sort after every label before them (listed, a directory
 * left by a backup that did not finish, or a history manifest), since "newest" is read from that order: a full after every label, a
 * diff or incr after the others of its full's set. A label that is not later (a backup a second ago: labels have
 * one-second resolution) takes the second after; one still not later means the time zone changed (a DST
 * fall-back hour, another TZ) or the clock went back, which fails with clock (106), as pgBackRest does.
 */
export async function createLabel(
  repo: Repository,
  type: BackupType,
  info: BackupInfo,
  prior: string | undefined,
  /** Labels of the directories backup.info does not list (BackupStore.incomplete), as the caller found them. */
  leftovers: readonly string[],
): Promise<{ label: string; started: Date }> {
  const latest = latestLabel(
    [
      ...info.backups.map((backup) => backup.label),
      ...leftovers,
      // An expired backup's history copy too, as pgBackRest: a new label must not take an old one's place.
      ...(await repo.backups.history.newestYear()).map((entry) => entry.label),
    ],
    type,
    prior,
  );
  let started = new Date((Math.floor(Date.now() / 1000) + 1) * 1000);
  let label = backupLabel(type, started, prior);
  if (latest !== undefined && label <= latest) {
    started = new Date(started.getTime() + 1000);
    label = backupLabel(type, started, prior);
    if (label <= latest) {
      throw new PgStashError(
        'clock',
        `new backup label '${label}' is not later than latest backup label '${latest}'`,
        {
          hint:
            'has the time zone changed (TZ, or the repeated hour of a daylight saving change)? is there clock skew? ' +
            'labels are local time: running pgstash with one fixed TZ (e.g. TZ=UTC in cron) avoids the first',
        },
      );
    }
  }
  return { label, started };
}

/** The latest of `labels` a new label of `type` must follow: any for a full, those of the prior's full set else. */
function latestLabel(
  labels: readonly string[],
  type: BackupType,
  prior: string | undefined,
): string | undefined {
  const full = prior?.slice(0, 16);
  const relevant =
    type === 'full' || full === undefined ? labels : labels.filter((label) => label.startsWith(`${full}_`));
  return [...relevant].sort().at(-1);
}

/**
 * How long after the start second reading may begin: the kernel stamps mtimes from a clock updated once per tick
 * (up to 10 ms behind the real time at HZ=100), so a write just after the start second could otherwise still be
 * stamped with the second before it.
 */
export const START_MARGIN_MS = 20;

/** Resolves once the backup's start second (createLabel) and START_MARGIN_MS have passed (at once if they have). */
export async function untilStarted(started: Date): Promise<void> {
  const target = started.getTime() + START_MARGIN_MS;
  // A timer may fire a millisecond early: then it waits again.
  while (Date.now() < target) await sleep(target - Date.now());
}
