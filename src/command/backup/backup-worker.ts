// Worker thread entry of a backup's file copy: copies the files the main thread hands it, then syncs them.
import { workerData } from 'node:worker_threads';
import type { RepoOptions } from '../../config/load.js';
import { serveJobs } from '../../io/worker/serve.js';
import type { DataDirEntry } from '../../postgres/data-dir.js';
import type { ManifestFile } from '../../repo/manifest.js';
import { Repository } from '../../repo/repository.js';
import { workerCounter } from '../progress/counter.js';
import { copyBundle, type BundledFile, type BundleEntry } from './copy-bundle.js';
import { copyFile, type CopiedFile, type FileCopySettings } from './copy-file.js';

export interface BackupWorkerData {
  readonly repo: RepoOptions;
  readonly stanza: string;
  /** The stanza's data key, already unwrapped by the main thread (no scrypt per worker). */
  readonly key: Uint8Array | undefined;
  readonly settings: FileCopySettings;
  /** The progress counter's shared memory: the worker adds the bytes it reads (command/progress/counter.ts). */
  readonly progress?: SharedArrayBuffer;
}

export type BackupJob =
  | {
      readonly type: 'copy';
      readonly entry: Pick<DataDirEntry, 'name' | 'absolutePath' | 'size'>;
      /** The prior backup's entry of a block-stored file (repoN-block compares with its map). */
      readonly prior?: ManifestFile | undefined;
    }
  /** Small files copied into bundle `id` (repoN-bundle), in one tar archive. */
  | {
      readonly type: 'bundle';
      readonly entries: readonly BundleEntry[];
      readonly id: number;
      /** repoN-bundle-limit: a file that grew to this since it was listed is stored alone. */
      readonly limit: number;
    }
  /** Makes this worker's writes durable (they are written with sync: false). */
  | { readonly type: 'flush' };

export type BackupJobResult = CopiedFile | (BundledFile | undefined)[] | undefined;

const data = workerData as BackupWorkerData;
const repo = await Repository.openInWorker(
  data.repo,
  data.stanza,
  data.key === undefined ? undefined : Buffer.from(data.key),
);
const progress = workerCounter(data.progress);

serveJobs<BackupJob, BackupJobResult>(async (job) => {
  if (job.type === 'flush') {
    await repo.flush();
    return undefined;
  }
  if (job.type === 'bundle')
    return copyBundle(repo, job.entries, data.settings, { id: job.id, limit: job.limit }, progress);
  return copyFile(repo, job.entry, data.settings, job.prior, progress?.stage());
});
