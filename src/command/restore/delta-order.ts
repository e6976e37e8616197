// restore --delta: the small files' batches go to the workers first, before the large files and their ranges.
//
// Why: a file kept in place is still made durable before pg_control (restore-worker.ts syncs it behind), and an
// fsync of a file with nothing to write still waits for the disk's cache flush (2-3 ms each on the CI-like VM, about
// 0.2 ms each with 16 in flight). A data directory is mostly small files (966 of 977 at pgbench scale 50), which the
// usual largest-first order left to the end: their fsyncs then ran after all the hashing, 200-270 ms of a 1.5-2 s
// delta restore with the workers idle. Compared first (a few MB of hashing), their fsyncs run on libuv's pool while
// the workers hash the large files; measured the same way, the time from the last hash to the end fell to 70-170 ms.
import type { ManifestFile } from '../../repo/manifest.js';

/**
 * Splits `jobs` (copy-order.ts inBatches: several files to a job only when they are small) into the jobs of several
 * files, to run first, and the others, which keep their order (largest first).
 */
export function smallBatchesFirst<J extends { readonly files: readonly ManifestFile[] }>(
  jobs: readonly J[],
): { first: J[]; rest: J[] } {
  return {
    first: jobs.filter((job) => job.files.length > 1),
    rest: jobs.filter((job) => job.files.length <= 1),
  };
}
