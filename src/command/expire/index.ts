// expire: removes the backups and WAL the retention policy no longer keeps, in each selected repository.
import { acquireLock } from '../../common/lock.js';
import { isPgStashError, PgStashError } from '../../common/errors.js';
import { log } from '../../common/log.js';
import { restoresReading } from '../../common/read-marker.js';
import type { LoadedConfig, RepoOptions } from '../../config/load.js';
import { openReusing, type Repository } from '../../repo/repository.js';
import type { CommandContext } from '../context.js';
import { selectedRepos } from '../repo-select.js';
import { expireRepo, retentionPolicy } from './expire-repo.js';

export async function expire(context: CommandContext): Promise<number> {
  const { config } = context;
  const stanza = config.require('stanza');
  const set = config.get('set');
  if (set === 'latest') {
    throw new PgStashError(
      'optionInvalidValue',
      "'latest' is not allowed for 'set' option of expire: name a backup label",
    );
  }
  const lock = await acquireLock({ lockPath: config.get('lock-path'), stanza, type: 'backup' });
  try {
    await expireStanza(config, { dryRun: config.get('dry-run'), set, report: context.out });
    return 0;
  } finally {
    await lock.release();
  }
}

/**
 * Expires every selected repository of the stanza; the caller holds the stanza's backup lock (the backup command calls
 * this after committing its backup). With --set, only the repositories that hold that backup.
 */
export async function expireStanza(
  config: LoadedConfig,
  options: {
    dryRun: boolean;
    set?: string | undefined;
    report: (line: string) => void;
    /** Only these repositories (backup: the one it wrote); default: the selected ones. */
    repos?: readonly RepoOptions[];
    /** A repository the caller has open already (backup): used as it is, its key not looked up again. */
    opened?: Repository;
  },
): Promise<void> {
  const stanza = config.require('stanza');
  let found = options.set === undefined;
  const repos = options.repos ?? selectedRepos(config);
  const failed: { name: string; error: PgStashError }[] = [];
  for (const repoOptions of repos) {
    try {
      const repo = await openReusing(repoOptions, stanza, options.opened);
      if (options.set !== undefined) {
        const listed = (await repo.backups.list()).some((backup) => backup.label === options.set);
        if (!listed) continue;
        found = true;
      }
      await expireRepo(repo, retentionPolicy(repoOptions), {
        ...options,
        now: Math.floor(Date.now() / 1000),
        restoresReading: () => restoresReading(config.get('lock-path'), stanza),
      });
    } catch (error) {
      // As pgBackRest: a repository that fails does not keep the others from being expired; the command fails after.
      if (!isPgStashError(error) || repos.length === 1) throw error;
      log.error(`repo${repoOptions.index}: ${error.message}`);
      failed.push({ name: `repo${repoOptions.index}`, error });
    }
  }
  const [firstFailure] = failed;
  if (firstFailure !== undefined) {
    throw new PgStashError(
      firstFailure.error.kind,
      `expire failed on ${failed.map((failure) => failure.name).join(', ')}: ${firstFailure.error.message}`,
    );
  }
  if (!found) {
    throw new PgStashError('backupSetInvalid', `backup set '${options.set ?? ''}' does not exist`, {
      hint: 'run the info command and check that the backup is listed',
    });
  }
}
