// The compression of what backup and archive-push store: compress-type and compress-level, or a repository's own
// repoN-compress-type and repoN-compress-level; defaults from the table.
import type { LoadedConfig, RepoOptions } from '../config/load.js';
import type { CompressType } from '../io/compress.js';

export function compressSettings(
  config: LoadedConfig,
  repo?: RepoOptions,
): { type: CompressType; level: number } {
  // A repository's own setting wins (compress-level of the other type would not fit it).
  if (repo?.compressType !== undefined) return { type: repo.compressType, level: repo.compressLevel ?? 0 };
  // compress-level has no value for compress-type 'none' (the table has no level for it): the level is unused then.
  return { type: config.get('compress-type'), level: config.get('compress-level') ?? 0 };
}
