// The new backup's label (pgBackRest's backupLabelCreate): the second it is asked in, later than all before it.
import { PgStashError } from '../../common/errors.js';
import type { BackupInfo, BackupType } from '../../repo/backup-info.js';
import { backupLabel } from '../../repo/label.js';
import type { Repository } from '../../repo/repository.js';

/**
 * A label for a backup of `type`, naming the second it is asked in, and that second: the earliest the backup may
 * record as its start (copy-start.ts picks the start, this second or a later one, once the tree is listed).
 *
 * Labels are local time, as pgBackRest's, and must sort after every label before them (listed, a directory
 * left by a backup that did not finish, or a history manifest), since "newest" is read from that order: a full after every label, a
 * diff or incr after the others of its full's set. A label that is not later (a backup a second ago: labels have
 * one-second resolution) takes the second after, which the copy then waits for; one still not later means the
 * time zone changed (a DST fall-back hour, another TZ) or the clock went back, which fails with clock (106), as
 * pgBackRest does.
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
  let started = new Date(Math.floor(Date.now() / 1000) * 1000);
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
