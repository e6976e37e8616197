// Worker thread entry of a restore: restores the files the main thread hands it, then syncs them.
import { workerData } from 'node:worker_threads';
import type { RepoOptions } from '../../config/load.js';
import { PgStashError } from '../../common/errors.js';
import { serveJobs } from '../../io/worker/serve.js';
import type { ManifestFile } from '../../repo/manifest.js';
import { Repository } from '../../repo/repository.js';
import { SyncBehind } from '../../storage/sync-behind.js';
import { workerCounter } from '../progress/counter.js';
import { isBlockFile } from '../../repo/block-read.js';
import { patchBlocks, patchRange, type BlockRange } from './delta-blocks.js';
import { keepIfMatching, removeChanged } from './delta-file.js';
import { restoreFile, type RestoreFileSettings } from './restore-file.js';
import { destinationOf } from './destination.js';

export interface RestoreWorkerData {
  readonly repo: RepoOptions;
  readonly stanza: string;
  /** The stanza's data key, already unwrapped by the main thread (no scrypt per worker). */
  readonly key: Uint8Array | undefined;
  /** The progress counter's shared memory: the worker adds the bytes it writes (command/progress/counter.ts). */
  readonly progress?: SharedArrayBuffer;
}

export type RestoreJob =
  | {
      readonly type: 'restore';
      /** Restored one after another: small files travel together (copy-order.ts inBatches). */
      readonly files: readonly ManifestFile[];
      readonly settings: RestoreFileSettings;
    }
  /**
   * Files of one bundle (not --delta), restored in bundle order as one streamed read of the bundle brings them
   * (BackupStore.readBundle): one request for the bundle on an object store, not one per batch or file.
   */
  | {
      readonly type: 'restore-bundle';
      readonly files: readonly ManifestFile[];
      readonly settings: RestoreFileSettings;
    }
  /**
   * restore --delta: blocks `range` of a large block-stored file prepared in place (delta-blocks.ts), compared and
   * the differing ones written; the file's other ranges run on other workers at the same time (files.ts). Only its
   * writtenBytes are set: the file is counted once all its ranges are done.
   */
  | {
      readonly type: 'patch-range';
      readonly file: ManifestFile;
      readonly range: BlockRange;
      readonly settings: RestoreFileSettings;
    }
  /** Makes every file this worker restored durable. */
  | { readonly type: 'flush' };

/** What one restore job did: files (and their bytes) kept in place by --delta, and written. */
export interface RestoreJobResult {
  kept: number;
  keptBytes: number;
  written: number;
  writtenBytes: number;
}

/** fsyncs a worker keeps in flight behind its writes. */
const SYNCS_IN_FLIGHT = 4;

const data = workerData as RestoreWorkerData;
const repo = await Repository.openInWorker(
  data.repo,
  data.stanza,
  data.key === undefined ? undefined : Buffer.from(data.key),
);
const counter = workerCounter(data.progress);
const progress = counter?.stage();

/** Each restored file is synced as soon as it is written, a few at once; 'flush' waits for all of them. */
const syncing = new SyncBehind(SYNCS_IN_FLIGHT);

serveJobs<RestoreJob, RestoreJobResult>(async (job) => {
  const result: RestoreJobResult = { kept: 0, keptBytes: 0, written: 0, writtenBytes: 0 };
  if (job.type === 'restore') {
    const { settings } = job;
    for (const file of job.files) {
      // --delta: comparing is hashing, CPU work, so it runs here on the worker, beside the writes.
      if (settings.delta !== undefined) {
        const path = destinationOf(file.name, settings.targets);
        const compare = {
          restoreOwner: settings.restoreOwner,
          backupStart: settings.backupStart ?? 0,
        };
        // --force: a file of the backup's size and mtime stays unread. One that is not, when block-stored, is
        // patched as --delta patches it rather than written whole (a large table with a few changed pages).
        if (
          settings.delta === 'mtime' &&
          (await keepIfMatching(path, file, 'mtime', { ...compare, removeIfChanged: !isBlockFile(file) }))
        ) {
          countKept(result, file);
          syncing.add(path);
          continue;
        }
        // A block-stored file is compared block by block and only its changed blocks rewritten (delta-blocks.ts).
        const patched = isBlockFile(file) ? await patchBlocks(repo, path, file, settings) : undefined;
        if (patched !== undefined) {
          if (patched.writtenBytes === 0) countKept(result, file);
          else {
            countWritten(result, patched.writtenBytes);
            // The whole file is done for the progress figures, not only the blocks rewritten.
            counter?.add(file.size);
          }
          syncing.add(path);
          continue;
        }
        if (settings.delta === 'checksum' && (await keepIfMatching(path, file, 'checksum', compare))) {
          countKept(result, file);
          // Its mode, owner or mtime may have changed, and its data may not be on disk yet (an interrupted restore
          // wrote it, say): durable before pg_control, as a written file.
          syncing.add(path);
          continue;
        }
        // A block-stored file --force could not patch in place is written anew, as any changed file (keepIfMatching
        // removed the others already).
        if (settings.delta === 'mtime' && isBlockFile(file)) removeChanged(path);
      }
      syncing.add(await restoreFile(repo, file, settings, progress));
      countWritten(result, file.size);
    }
  } else if (job.type === 'restore-bundle') {
    for await (const { file, chunks } of repo.backups.readBundle(job.files)) {
      syncing.add(await restoreFile(repo, file, job.settings, progress, chunks));
      countWritten(result, file.size);
    }
  } else if (job.type === 'patch-range') {
    const { file, range, settings } = job;
    if (!isBlockFile(file)) throw new PgStashError('assert', `'${file.name}' is not stored as blocks`);
    result.writtenBytes = await patchRange(repo, destinationOf(file.name, settings.targets), file, range);
    // The range is done for the progress figures, whatever it wrote.
    counter?.add(
      Math.max(
        0,
        Math.min(file.size, range.end * file.stored.block.blockSize) -
          range.first * file.stored.block.blockSize,
      ),
    );
  } else await syncing.drain();
  return result;
});

function countKept(result: RestoreJobResult, file: ManifestFile): void {
  result.kept += 1;
  result.keptBytes += file.size;
}

function countWritten(result: RestoreJobResult, bytes: number): void {
  result.written += 1;
  result.writtenBytes += bytes;
}
