// repoN-block for a backup's copy: which prior entry a changed file's blocks are compared with.
import type { Manifest, ManifestFile } from '../../repo/manifest.js';
import type { CopyOptions } from './copy-files.js';

/** The copy options of block incremental: on or off, and the prior's entries (by name) holding a block map. */
export function blockIncremental(
  enabled: boolean,
  prior: Manifest | undefined,
): Pick<CopyOptions, 'block' | 'blockPrior'> {
  if (!enabled) return {};
  const files = new Map<string, ManifestFile>();
  for (const file of prior?.files ?? []) if (file.stored.block !== undefined) files.set(file.name, file);
  return { block: true, blockPrior: (name) => files.get(name) };
}
