// restore --delta: a large block-stored file split into ranges of blocks that the workers compare at the same time.
//
// Why: comparing is hashing, and a data directory's largest relation file (pgbench_accounts at scale 50: 640 MB of
// 780) made the delta restore as long as one thread's SHA-256 of it while the other workers were idle. Its ranges
// run on every worker, largest first with the other files, so the CPU work spreads evenly over process-max threads.
import { isBlockFile, type BlockFile } from '../../repo/block-read.js';
import type { ManifestFile } from '../../repo/manifest.js';
import { lstatSync } from 'node:fs';
import { syncPaths } from '../../storage/file-io.js';
import { sameByTime } from './delta-file.js';
import { RUNS_ALONE_BYTES } from '../copy-order.js';
import { blockRanges, finishInPlace, prepareInPlace, type BlockRange } from './delta-blocks.js';
import { destinationOf } from './destination.js';
import type { RestoreFileSettings } from './restore-file.js';
import type { RestoreJobResult } from './restore-worker.js';

/** Block-stored files at least this large are split (a smaller one is hashed in less time than a worker's start). */
export const SPLIT_BYTES = RUNS_ALONE_BYTES;

/** One range of a split file: a job of its own. */
export interface RangeJob {
  readonly file: BlockFile;
  readonly range: BlockRange;
  /** Bytes of the file the range covers (its share of the work, for the order of jobs). */
  readonly bytes: number;
  readonly split: SplitFile;
}

/** A file being patched as ranges: counts its ranges down, then finishes it. */
export class SplitFile {
  readonly file: BlockFile;
  readonly path: string;
  #left: number;
  #written = 0;

  constructor(file: BlockFile, path: string, ranges: number) {
    this.file = file;
    this.path = path;
    this.#left = ranges;
  }

  /**
   * Records one range done (bytes it wrote). After the last one: the file gets its size and attributes and is made
   * durable, and the result for the file is returned (kept, or written with the bytes its ranges wrote); 'rewrite'
   * when it could not be given its attributes (then removed: the caller writes it anew); undefined before the last.
   */
  async rangeDone(
    written: number,
    settings: RestoreFileSettings,
  ): Promise<RestoreJobResult | 'rewrite' | undefined> {
    this.#written += written;
    if (--this.#left > 0) return undefined;
    if (!finishInPlace(this.path, this.file, settings)) return 'rewrite';
    await syncPaths([this.path], { skipMissing: false });
    return this.#written === 0
      ? { kept: 1, keptBytes: this.file.size, written: 0, writtenBytes: 0 }
      : { kept: 0, keptBytes: 0, written: 1, writtenBytes: this.#written };
  }
}

/** Whether --force keeps the file at `path` as it is (delta-file.ts sameByTime; not a link, never followed). */
function unchangedByTime(path: string, file: ManifestFile, backupStart: number): boolean {
  try {
    return sameByTime(lstatSync(path), file, backupStart);
  } catch {
    return false;
  }
}

/**
 * Takes out of `files` (largest first) the block-stored files of SPLIT_BYTES or more that restore --delta can patch
 * in place (prepared here: delta-blocks.ts prepareInPlace), each cut into `workers` ranges; returns those ranges
 * (largest first) and the other files, for the usual jobs. With one worker nothing is split; with --force, nor is
 * a file that its size and mtime keep.
 */
export function splitForDelta(
  files: readonly ManifestFile[],
  settings: RestoreFileSettings,
  workers: number,
): { ranges: RangeJob[]; others: ManifestFile[] } {
  const ranges: RangeJob[] = [];
  const others: ManifestFile[] = [];
  for (const file of files) {
    if (workers < 2 || settings.delta === undefined || file.size < SPLIT_BYTES || !isBlockFile(file)) {
      others.push(file);
      continue;
    }
    const path = destinationOf(file.name, settings.targets);
    // --force keeps a file of the backup's size and mtime without reading it (on a worker, with the small files).
    if (settings.delta === 'mtime' && unchangedByTime(path, file, settings.backupStart ?? 0)) {
      others.push(file);
      continue;
    }
    const prepared = prepareInPlace(path, file, settings);
    if (prepared === undefined) {
      others.push(file);
      continue;
    }
    const fileRanges = blockRanges(file, workers, prepared.inPlaceSize);
    const split = new SplitFile(file, path, fileRanges.length);
    const { blockSize } = file.stored.block;
    for (const range of fileRanges) {
      const bytes = Math.min(file.size, range.end * blockSize) - range.first * blockSize;
      ranges.push({ file, range, bytes, split });
    }
  }
  ranges.sort((a, b) => b.bytes - a.bytes);
  return { ranges, others };
}
