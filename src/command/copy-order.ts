// How backup and restore hand files to their workers: largest first, and a large file on a worker of its own.
//
// Why: with process-max workers, a large relation that starts last keeps one worker busy long after the others
// are idle. Measured on a restore with process-max 2 of a pgbench cluster whose two large tables (640 and
// 110 MB) came last in name order: they started only after the 975 small files, and the restore took 4.4 s;
// largest first, 3.3 s (pgBackRest orders its queues the same way). A worker runs two files at once so that small
// files overlap their opening and closing; a large file keeps its thread busy by itself, and sharing the thread
// only delays it.

/** Files at least this large run alone on their worker thread. */
export const RUNS_ALONE_BYTES = 64 * 1024 * 1024;

/** Larger files first; equal sizes in name order, so the order is the same on every run. */
export function largestFirst(a: { name: string; size: number }, b: { name: string; size: number }): number {
  return b.size - a.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** The worker pool option for a file of `size` bytes. */
export function poolOptionsFor(size: number): { exclusive: boolean } {
  return { exclusive: size >= RUNS_ALONE_BYTES };
}

/** What goes to a worker in one job: files below `smallerThan` bytes, together up to the other limits. */
export interface BatchLimits {
  readonly smallerThan: number;
  readonly files: number;
  readonly bytes: number;
}

/**
 * Groups `files` into jobs, keeping their order: a file of `smallerThan` bytes or more alone, consecutive smaller ones
 * together up to `files` files or `bytes` bytes. Why: a job costs a message each way and a turn of the main
 * thread's loop, which for the hundreds of small files of a cluster cost more than restoring them.
 */
export function inBatches<T extends { size: number }>(files: readonly T[], limits: BatchLimits): T[][] {
  const batches: T[][] = [];
  let open: T[] = [];
  let openBytes = 0;
  const close = (): void => {
    if (open.length > 0) batches.push(open);
    open = [];
    openBytes = 0;
  };
  for (const file of files) {
    if (file.size >= limits.smallerThan) {
      close();
      batches.push([file]);
      continue;
    }
    if (open.length === limits.files || openBytes + file.size > limits.bytes) close();
    open.push(file);
    openBytes += file.size;
  }
  close();
  return batches;
}
