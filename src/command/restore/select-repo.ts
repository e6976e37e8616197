// Which repository a restore (or drill) reads from: --repo, or the first configured one, in index order, that holds
// a backup set the restore can start from (pgBackRest's rule: repo1 before repo2).
import { isPgStashError, messageOf, PgStashError } from '../../common/errors.js';
import { log } from '../../common/log.js';
import type { LoadedConfig } from '../../config/load.js';
import type { BackupRecord } from '../../repo/backup-info.js';
import type { DbHistory } from '../../repo/db-history.js';
import { Repository } from '../../repo/repository.js';
import { selectedRepos } from '../repo-select.js';
import type { Selection } from './select-backup.js';

export interface RestoreSource {
  readonly repo: Repository;
  readonly selection: Selection;
  /** The db history of the repository's backup.info (its archive ids, without reading archive.info). */
  readonly history: DbHistory;
}

/** The backup set `choose` takes from one repository's backups; throws (backupSetInvalid) when none fits. */
export type ChooseBackup = (backups: readonly BackupRecord[]) => Selection;

/**
 * The repository and backup set to restore. With --repo (or one repository) that repository's errors are the
 * restore's. Otherwise each repository is asked in index order and the first whose backups give a set wins (for
 * --set: the first holding that label; for a target: the first with a set that can reach it): a repository that
 * is unreachable, has no stanza or no fitting set is skipped with a warning naming it, so a lost repo1 never stands
 * between a DBA and the copy in repo2. When none fits, the first repository's error is thrown (a missing set or no
 * backups is said once for them all).
 */
export async function selectRestoreSource(
  config: LoadedConfig,
  stanza: string,
  choose: ChooseBackup,
): Promise<RestoreSource> {
  const candidates = selectedRepos(config);
  const [only] = candidates;
  if (only !== undefined && candidates.length === 1)
    return sourceIn(await Repository.open(only, stanza), choose);
  const failures: { name: string; error: PgStashError }[] = [];
  for (const options of candidates) {
    try {
      const source = await sourceIn(await Repository.open(options, stanza), choose);
      log.info(`restore from repo${options.index}: backup set ${source.selection.backup.label}`);
      return source;
    } catch (error) {
      if (!isPgStashError(error)) throw error;
      log.warn(`repo${options.index}: ${messageOf(error)}`);
      failures.push({ name: `repo${options.index}`, error });
    }
  }
  const names = failures.map((failure) => failure.name).join(', ');
  // Some repository failed for another reason than lacking a set (unreachable, a wrong passphrase): that is the
  // likelier cause, so it is what the restore fails with.
  const other = failures.find((failure) => failure.error.kind !== 'backupSetInvalid');
  if (other !== undefined) throw other.error;
  const first = failures[0]?.error;
  if (first === undefined) throw new PgStashError('assert', 'no repository to restore from');
  throw new PgStashError('backupSetInvalid', `${first.message} (looked in ${names})`, {
    ...(first.hint === undefined ? {} : { hint: first.hint }),
  });
}

async function sourceIn(repo: Repository, choose: ChooseBackup): Promise<RestoreSource> {
  const backupInfo = await repo.backupInfo();
  if (backupInfo === undefined) {
    throw new PgStashError('fileMissing', `${repo.name}: stanza '${repo.stanza}' has no backup.info`, {
      hint: `run 'pgstash --stanza=${repo.stanza} stanza-create' and take a backup first`,
    });
  }
  return { repo, selection: choose(backupInfo.backups), history: backupInfo };
}
