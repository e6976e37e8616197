// Which configured repositories a command works on: all of them, or only the one --repo names.
import { PgStashError } from '../common/errors.js';
import type { LoadedConfig, RepoOptions } from '../config/load.js';

/** Every configured repository, or just `--repo=N` (the loader refuses an N that is not configured). */
export function selectedRepos(config: LoadedConfig): RepoOptions[] {
  const selected = config.get('repo');
  const repos =
    selected === undefined ? [...config.repos] : config.repos.filter((repo) => repo.index === selected);
  if (repos.length === 0) {
    throw new PgStashError('optionInvalidValue', `repo${selected ?? 1} is not configured ('repo' option)`);
  }
  return repos;
}

/** The one repository of a single-repository command (backup, restore): --repo, or the lowest configured. */
export function selectRepo(config: LoadedConfig): RepoOptions {
  return selectedRepos(config)[0] as RepoOptions;
}
