// repoN-bundle for a backup's copy: which files go into bundles, and how they are grouped into bundle jobs.
import { PgStashError } from '../../common/errors.js';
import { formatSize } from '../../config/value.js';
import type { DataDirEntry } from '../../postgres/data-dir.js';
import { BLOCK_FILE_MIN } from '../../repo/block-map.js';
import type { ManifestFile } from '../../repo/manifest.js';
import type { ProgressReporter } from '../progress/reporter.js';

/** repoN-bundle-size and repoN-bundle-limit, in bytes. */
export interface BundleSettings {
  /** A bundle takes files until their original sizes reach this. */
  readonly size: number;
  /** Files smaller than this are bundled. */
  readonly limit: number;
}

/**
 * The bundle settings of repository `index`, or undefined when it does not bundle. A limit set above the bundle
 * size is refused (optionInvalidValue, 32), naming both options and values: a bundle would hold one file above its
 * size, the limit then bounds nothing the size does not, and it is most likely a slip of units. pgBackRest accepts
 * it silently (its docs: a bundle may reach size + limit). The default limit (2MiB) is lowered to a smaller size
 * instead: `repoN-bundle-size=1MiB` alone, pgBackRest's smallest size, is a valid pgBackRest configuration.
 */
export function bundleSettings(
  options: {
    readonly index: number;
    readonly bundle: boolean;
    readonly bundleSize: number;
    readonly bundleLimit: number;
  },
  limitSet: boolean,
): BundleSettings | undefined {
  if (!options.bundle) return undefined;
  if (options.bundleLimit > options.bundleSize) {
    if (!limitSet) return { size: options.bundleSize, limit: options.bundleSize };
    const repo = `repo${options.index}`;
    throw new PgStashError(
      'optionInvalidValue',
      `${repo}-bundle-limit (${formatSize(options.bundleLimit)}) is larger than ${repo}-bundle-size ` +
        `(${formatSize(options.bundleSize)}): lower the limit or raise the size`,
    );
  }
  return { size: options.bundleSize, limit: options.bundleLimit };
}

/**
 * Splits the files to copy into those copied alone and bundle jobs. A file is bundled when it is not empty (an empty
 * file has no object at all), smaller than the limit and not stored as blocks (repoN-block takes files of 1 MiB
 * or more). A file the copy's `reuse` hook takes (unchanged since the prior, or kept by a resume) is recorded here
 * and copied nowhere. Bundles take files in name order (a relation's forks and segments together), ids from 1.
 */
export async function bundleWork(
  files: readonly DataDirEntry[],
  settings: BundleSettings,
  context: {
    readonly block: boolean;
    readonly reuse: ((entry: DataDirEntry) => Promise<ManifestFile | undefined>) | undefined;
    readonly progress: ProgressReporter;
    readonly record: (file: ManifestFile) => void;
  },
): Promise<{ alone: DataDirEntry[]; bundles: { entries: DataDirEntry[]; id: number }[] }> {
  const alone: DataDirEntry[] = [];
  const small: DataDirEntry[] = [];
  for (const entry of files) {
    const bundled =
      entry.size > 0 && entry.size < settings.limit && !(context.block && entry.size >= BLOCK_FILE_MIN);
    if (!bundled) {
      alone.push(entry);
      continue;
    }
    const reused = await context.reuse?.(entry);
    if (reused === undefined) small.push(entry);
    else {
      context.progress.filesDone(1, entry.size);
      context.record(reused);
    }
  }
  small.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const bundles: { entries: DataDirEntry[]; id: number }[] = [];
  let current: DataDirEntry[] = [];
  let bytes = 0;
  for (const entry of small) {
    current.push(entry);
    bytes += entry.size;
    if (bytes >= settings.size) {
      bundles.push({ entries: current, id: bundles.length + 1 });
      current = [];
      bytes = 0;
    }
  }
  if (current.length > 0) bundles.push({ entries: current, id: bundles.length + 1 });
  return { alone, bundles };
}
