// archive-get: fetches one WAL file for PostgreSQL's restore_command, verified, written atomically.
import { resolve } from 'node:path';
import { isPgStashError, messageOf } from '../../common/errors.js';
import { log } from '../../common/log.js';
import { openEachRepository, Repository, type UnopenedRepository } from '../../repo/repository.js';
import { PendingFile } from '../../storage/local-file.js';
import type { CommandContext } from '../context.js';
import { selectedRepos } from '../repo-select.js';
import { ARCHIVE_GET_NOT_FOUND, inArchiveRecovery, leaveToRecoveryTarget } from './recovery-exit.js';
import { targetGuardingFailure } from './recovery-target-guard.js';
import { requireWalFileName } from './wal-source.js';

/**
 * Looks for the file in one repository, in every archive id of the current cluster (newest first: after a
 * stanza upgrade the same cluster's older WAL stays under its old id), and writes it to `destination`.
 */
async function getFromRepository(
  repo: Repository,
  walFileName: string,
  destination: string,
  sync = false,
): Promise<boolean> {
  for (const id of await repo.wal.clusterIds()) {
    const found = await repo.wal.find(id, walFileName);
    if (found === undefined) continue;
    const chunks = await repo.wal.read(found);
    // Removed between the listing and the open: the same as not found here.
    if (chunks === undefined) continue;
    const file = await PendingFile.create(destination, { mode: 0o600 });
    try {
      // getChunks checks the checksum after the last chunk: the file is committed only once it is verified.
      for await (const chunk of chunks) await file.write(chunk);
      // No fsync for restore_command: PostgreSQL reads the file at once and fetches it again if it crashes before
      // using it. The asynchronous spool keeps files for later: it syncs them (async/get-background.ts).
      await file.commit({ sync });
    } catch (error) {
      await file.abort();
      throw error;
    }
    log.info(`found ${walFileName} in the ${repo.name} archive ${id}`);
    return true;
  }
  return false;
}

export async function archiveGet(context: CommandContext): Promise<number> {
  const { config } = context;
  // The loader guarantees both positional arguments (%f and %p): a missing one is paramRequired (43).
  const [walFileName = '', destinationArg = ''] = config.args;
  const stanza = config.require('stanza');
  requireWalFileName(walFileName);
  // PostgreSQL runs restore_command in the data directory and passes %p relative to it: resolve against the
  // working directory, not pg1-path, which may name another cluster (a restore into a new directory).
  const destination = resolve(destinationArg);
  let repos: Repository[] | undefined;
  try {
    if (config.get('archive-async')) {
      // The spool answers, or a background process prefetches into it (async/get-async.ts); undefined: not a
      // segment the spool holds (a history file...), fetched here.
      const { archiveGetAsync } = await import('./async/get-async.js');
      const code = await archiveGetAsync(context, walFileName, destination);
      if (code !== undefined) return code;
    }
    const each = await openEachRepository(selectedRepos(config), stanza);
    repos = each.filter((repo) => repo instanceof Repository);
    if (await fetchWal(each, walFileName, destination)) return 0;
  } catch (error) {
    throw await failureForRecovery(error, walFileName, repos);
  }
  log.info(`unable to find ${walFileName} in the archive`);
  return ARCHIVE_GET_NOT_FOUND;
}

/**
 * Fetches `walFileName` from the first repository of `repos` that has it into `destination` (written whole,
 * verified; fsynced when `sync`): true when found, false when in none. An error in one repository does not hide a
 * good copy in the next; it is thrown when no repository has the file.
 */
export async function fetchWal(
  repos: readonly (Repository | UnopenedRepository)[],
  walFileName: string,
  destination: string,
  sync = false,
): Promise<boolean> {
  let firstError: unknown;
  for (const repo of repos) {
    try {
      if (!(repo instanceof Repository)) throw repo.error;
      if (await getFromRepository(repo, walFileName, destination, sync)) {
        if (firstError !== undefined)
          log.warn(`found ${walFileName} in ${repo.name} after an earlier repository failed`);
        return true;
      }
    } catch (error) {
      if (!isPgStashError(error)) throw error;
      // Try the next repository: a corrupt or unreachable one must not hide a good copy elsewhere.
      if (repos.length > 1) log.warn(`${repo.name}: ${messageOf(error)}`);
      firstError ??= error;
    }
  }
  if (firstError !== undefined) throw firstError;
  return false;
}

/**
 * `error`, marked to exit with its plain code when PostgreSQL's recovery target guards recovery against it
 * (recovery-target-guard.ts): a segment read ahead of replay, past the target, must not stop the recovery.
 */
async function failureForRecovery(
  error: unknown,
  walFileName: string,
  repos: readonly Repository[] | undefined,
): Promise<unknown> {
  if (!isPgStashError(error) || !inArchiveRecovery()) return error;
  const target = await targetGuardingFailure(walFileName, process.cwd(), repos);
  if (target === undefined) return error;
  log.warn(
    `unable to fetch ${walFileName}; recovery goes on towards ${target.setting} '${target.value}': PostgreSQL ` +
      'stops at the target if it comes before this file, and otherwise ends with "recovery ended before ' +
      'configured recovery target was reached", without promoting',
  );
  return leaveToRecoveryTarget(error);
}
