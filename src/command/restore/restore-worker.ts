// Worker thread entry of a restore: restores the files the main thread hands it.
import { workerData } from 'node:worker_threads';
import type { RepoOptions } from '../../config/load.js';
import { serveJobs } from '../../io/worker/serve.js';
import type { ManifestFile } from '../../repo/manifest.js';
import { Repository } from '../../repo/repository.js';
import { restoreFile, type RestoreFileSettings } from './restore-file.js';

export interface RestoreWorkerData {
  readonly repo: RepoOptions;
  readonly stanza: string;
  /** The stanza's data key, already unwrapped by the main thread (no scrypt per worker). */
  readonly key: Uint8Array | undefined;
  readonly settings: RestoreFileSettings;
}

export type RestoreJob = ManifestFile;

const data = workerData as RestoreWorkerData;
const repo = await Repository.openInWorker(
  data.repo,
  data.stanza,
  data.key === undefined ? undefined : Buffer.from(data.key),
);

serveJobs<RestoreJob, undefined>(async (file) => {
  await restoreFile(repo, file, data.settings);
  return undefined;
});
