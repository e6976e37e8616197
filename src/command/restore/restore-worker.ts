// Worker thread entry of a restore: restores the files the main thread hands it, then syncs them.
import { workerData } from 'node:worker_threads';
import type { RepoOptions } from '../../config/load.js';
import { serveJobs } from '../../io/worker/serve.js';
import type { ManifestFile } from '../../repo/manifest.js';
import { Repository } from '../../repo/repository.js';
import { syncPaths } from '../../storage/file-io.js';
import { restoreFile, type RestoreFileSettings } from './restore-file.js';

export interface RestoreWorkerData {
  readonly repo: RepoOptions;
  readonly stanza: string;
  /** The stanza's data key, already unwrapped by the main thread (no scrypt per worker). */
  readonly key: Uint8Array | undefined;
  readonly settings: RestoreFileSettings;
}

export type RestoreJob =
  | { readonly type: 'restore'; readonly file: ManifestFile }
  /** Makes every file this worker restored durable. */
  | { readonly type: 'flush' };

const data = workerData as RestoreWorkerData;
const repo = await Repository.openInWorker(
  data.repo,
  data.stanza,
  data.key === undefined ? undefined : Buffer.from(data.key),
);

/** Files restored and not yet synced. */
let unsynced: string[] = [];

serveJobs<RestoreJob, undefined>(async (job) => {
  if (job.type === 'restore') {
    unsynced.push(await restoreFile(repo, job.file, data.settings));
    return undefined;
  }
  const paths = unsynced;
  unsynced = [];
  // By now the kernel has written most of the data back on its own.
  await syncPaths(paths, { skipMissing: false });
  return undefined;
});
