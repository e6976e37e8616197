// Worker thread entry of a restore: restores the files the main thread hands it, then syncs them.
import { workerData } from 'node:worker_threads';
import type { RepoOptions } from '../../config/load.js';
import { serveJobs } from '../../io/worker/serve.js';
import type { ManifestFile } from '../../repo/manifest.js';
import { Repository } from '../../repo/repository.js';
import { SyncBehind } from '../../storage/sync-behind.js';
import { restoreFile, type RestoreFileSettings } from './restore-file.js';

export interface RestoreWorkerData {
  readonly repo: RepoOptions;
  readonly stanza: string;
  /** The stanza's data key, already unwrapped by the main thread (no scrypt per worker). */
  readonly key: Uint8Array | undefined;
}

export type RestoreJob =
  | {
      readonly type: 'restore';
      /** Restored one after another: small files travel together (copy-order.ts inBatches). */
      readonly files: readonly ManifestFile[];
      readonly settings: RestoreFileSettings;
    }
  /** Makes every file this worker restored durable. */
  | { readonly type: 'flush' };

/** fsyncs a worker keeps in flight behind its writes. */
const SYNCS_IN_FLIGHT = 4;

const data = workerData as RestoreWorkerData;
const repo = await Repository.openInWorker(
  data.repo,
  data.stanza,
  data.key === undefined ? undefined : Buffer.from(data.key),
);

/** Each restored file is synced as soon as it is written, a few at once; 'flush' waits for all of them. */
const syncing = new SyncBehind(SYNCS_IN_FLIGHT);

serveJobs<RestoreJob, undefined>(async (job) => {
  if (job.type === 'restore') {
    for (const file of job.files) syncing.add(await restoreFile(repo, file, job.settings));
  } else await syncing.drain();
  return undefined;
});
