// Restores a backup's paths, tablespace links and files (on process-max worker threads), pg_control last.
import { chown, lchown, mkdir, open, readlink, symlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PgStashError } from '../../common/errors.js';
import { runParallel } from '../../io/parallel.js';
import { syncPath, syncPaths } from '../../storage/file-io.js';
import { WorkerPool } from '../../io/worker/pool.js';
import type { Manifest, ManifestFile, ManifestPath } from '../../repo/manifest.js';
import type { Repository } from '../../repo/repository.js';
import { inBatches, largestFirst, poolOptionsFor, type BatchLimits } from '../copy-order.js';
import type { ProgressReporter } from '../progress/reporter.js';
import { destinationOf, type ResolvedTarget } from './destination.js';
import { ownerIds, type RestoreFileSettings } from './restore-file.js';
import type { DeltaCompare } from './delta-file.js';
import { splitForDelta, type RangeJob } from './delta-split.js';
import { smallBatchesFirst } from './delta-order.js';
import type { RestoreJob, RestoreJobResult, RestoreWorkerData } from './restore-worker.js';

/** The control file goes in last: until it exists, a half-restored directory cannot be started by mistake. */
export const CONTROL_FILE = 'pg_data/global/pg_control';

/**
 * Backup files a restore leaves out. tablespace_map names each tablespace's location on the backed-up host, and
 * PostgreSQL recreates the pg_tblspc links from it when recovery starts: with --tablespace-map that would point
 * the restored cluster back at the original (perhaps live) tablespace directories. The restore makes the links
 * itself, so, as pg_basebackup's plain format, it goes without the file.
 */
export const NOT_RESTORED: ReadonlySet<string> = new Set(['pg_data/tablespace_map']);

export interface RestoreFilesOptions {
  /** Running as root: give files the owner recorded in the manifest. */
  readonly restoreOwner: boolean;
  /**
   * Writes what goes into the data directory besides the backup's files (recovery settings, backup_manifest):
   * once every file is in (postgresql.auto.conf among them), while the workers sync, and before pg_control.
   */
  readonly beforeControl?: () => Promise<void>;
  /** restore --delta: files in place are compared, and kept when they match (after delta-clean.ts). */
  readonly delta?:
    | DeltaCompare
    | undefined; /** Told what there is to do and of each file done; its counter is the one the pool's workers add to. */
  readonly progress?: ProgressReporter;
}

/** Small files go to the workers in batches (see inBatches). */
const BATCH: BatchLimits = { smallerThan: 256 * 1024, files: 32, bytes: 1024 * 1024 };

/** What the main thread hands a worker: files restored one after another, or the files of one bundle. */
interface FileJob {
  readonly type: 'restore' | 'restore-bundle';
  readonly files: ManifestFile[];
  readonly bytes: number;
}

function fileJob(type: FileJob['type'], files: ManifestFile[]): FileJob {
  return { type, files, bytes: files.reduce((sum, file) => sum + file.size, 0) };
}

/**
 * The jobs of `files` (largest first), the largest first. Without --delta each bundle is one job, read forward in one
 * streamed read (restore-worker.ts, BackupStore.readBundle): on S3 a bundle is then one GET (pgbench scale 10: 30
 * GETs before, when batches of up to 2 MiB of a bundle's small files were each one ranged read). --delta reads only
 * the members of files that differ, one by one: its small bundled files go in batches of BATCH in bundle order,
 * others too.
 */
function restoreJobs(files: readonly ManifestFile[], delta: boolean): FileJob[] {
  const bundled = (file: ManifestFile): boolean =>
    file.stored.bundle !== undefined && (!delta || file.size < BATCH.smallerThan);
  const jobs = inBatches(
    files.filter((file) => !bundled(file)),
    BATCH,
  ).map((batch) => fileJob('restore', batch));
  const bundledFiles = files.filter(bundled);
  if (delta)
    jobs.push(...inBatches(inBundleOrder(bundledFiles), BATCH).map((batch) => fileJob('restore', batch)));
  else {
    // Grouped as they come: BackupStore.readBundle reads each bundle's files in offset order itself.
    const byBundle = new Map<string, ManifestFile[]>();
    for (const file of bundledFiles) {
      const key = `${file.stored.holder}/${file.stored.bundle?.id ?? 0}`;
      const members = byBundle.get(key);
      if (members === undefined) byBundle.set(key, [file]);
      else members.push(file);
    }
    for (const members of byBundle.values()) jobs.push(fileJob('restore-bundle', members));
  }
  // Stable: equal sizes keep the order above.
  return jobs.sort((a, b) => b.bytes - a.bytes);
}

/** Bundled `files` in bundle order (holder, bundle, offset). */
function inBundleOrder(files: readonly ManifestFile[]): ManifestFile[] {
  const key = (file: ManifestFile): [string, number, number] => [
    file.stored.holder,
    file.stored.bundle?.id ?? 0,
    file.stored.bundle?.offset ?? 0,
  ];
  return [...files].sort((a, b) => {
    const [ha, ia, oa] = key(a);
    const [hb, ib, ob] = key(b);
    return ha < hb ? -1 : ha > hb ? 1 : ia - ib || oa - ob;
  });
}

export type RestorePool = WorkerPool<RestoreJob, RestoreJobResult>;

/**
 * Starts the restore's worker threads (process-max of them). The restore calls it before reading the manifest:
 * a thread takes tens of milliseconds to boot, and the largest file, which goes first, waits for it. The caller
 * closes the pool.
 */
export function startRestorePool(
  repo: Repository,
  key: Buffer | undefined,
  options: { processMax: number; signal: AbortSignal; progress?: SharedArrayBuffer },
): RestorePool {
  const workerData: RestoreWorkerData = {
    repo: repo.options,
    stanza: repo.stanza,
    key,
    ...(options.progress === undefined ? {} : { progress: options.progress }),
  };
  return new WorkerPool(new URL('./restore-worker.js', import.meta.url), {
    size: options.processMax,
    // Two on a local file system (one file waits for the decompressor while the thread works on the other), more on
    // an object store, whose round trips a worker hides by overlapping files.
    jobsPerWorker: repo.readsInFlight,
    workerData,
    signal: options.signal,
  });
}

export async function restoreTree(
  pool: RestorePool,
  manifest: Manifest,
  targets: readonly ResolvedTarget[],
  options: RestoreFilesOptions,
): Promise<RestoreJobResult> {
  const tablespaceLinks = new Map(
    targets
      .filter((entry) => entry.target.name !== 'pg_data')
      .map((entry) => [`pg_data/pg_tblspc/${entry.target.tablespaceOid}`, entry.path]),
  );
  // Paths first (parents before children: the manifest lists them in walk order), then tablespace links.
  const directories: RestoredDirectory[] = [];
  for (const entry of manifest.paths) {
    if (tablespaceLinks.has(entry.name)) continue;
    const path = destinationOf(entry.name, targets);
    await mkdir(path, { recursive: true, mode: 0o700 });
    directories.push({ entry, path });
  }
  for (const link of manifest.links) {
    const destination = tablespaceLinks.get(link.name);
    // Other links (a linked pg_wal, say) are restored as plain directories and files, as pgBackRest does.
    if (destination === undefined) continue;
    const path = destinationOf(link.name, targets);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    // With --delta a link already right stays (delta-clean.ts removed any other).
    if (!(await linksTo(path, destination))) await symlink(destination, path);
    if (options.restoreOwner) {
      const { uid, gid } = ownerIds(link);
      await lchown(path, uid, gid);
    }
  }
  const controlFile = manifest.files.find((file) => file.name === CONTROL_FILE);
  if (controlFile === undefined) {
    throw new PgStashError('fileMissing', `backup ${manifest.backup.label} has no global/pg_control`);
  }
  const files = manifest.files
    .filter((file) => file !== controlFile && !NOT_RESTORED.has(file.name))
    .sort(largestFirst);
  const settings: RestoreFileSettings = {
    targets,
    restoreOwner: options.restoreOwner,
    delta: options.delta,
    backupStart: manifest.backup.timestampStart,
  };
  const totals: RestoreJobResult = { kept: 0, keptBytes: 0, written: 0, writtenBytes: 0 };
  const add = (result: RestoreJobResult, counted = false): void => {
    // Written bytes were counted by the worker as it wrote them; kept ones were checked, counted here (a split
    // file's ranges counted theirs as they finished).
    options.progress?.deltaDone(counted ? { ...result, keptBytes: 0 } : result);
    totals.kept += result.kept;
    totals.keptBytes += result.keptBytes;
    totals.written += result.written;
    totals.writtenBytes += result.writtenBytes;
  };
  options.progress?.start({
    bytes: files.reduce((sum, file) => sum + file.size, controlFile.size),
    files: files.length + 1,
  });
  // --delta: the largest block-stored files are compared as ranges on every worker at once (delta-split.ts).
  const { ranges, others } = splitForDelta(files, settings, pool.size);
  const restoreFiles = async (job: FileJob, jobSettings = settings): Promise<void> =>
    add(
      await pool.run(
        { type: job.type, files: job.files, settings: jobSettings },
        poolOptionsFor(job.files.length === 1 ? job.bytes : 0),
      ),
    );
  const jobs = restoreJobs(others, settings.delta !== undefined);
  // --delta: the small files first, so that their syncs overlap the hashing of the large ones (delta-order.ts).
  const { first, rest } = settings.delta === undefined ? { first: [], rest: jobs } : smallBatchesFirst(jobs);
  await runParallel([...first, ...largestJobsFirst(ranges, rest)], {
    concurrency: pool.submitAhead,
    worker: async (job: RangeJob | FileJob) => {
      if ('files' in job) return restoreFiles(job);
      const { file, range, split } = job;
      // A range is hashing alone: it has its worker to itself, as a large file does.
      const { writtenBytes } = await pool.run(
        { type: 'patch-range', file, range, settings },
        { exclusive: true },
      );
      const done = await split.rangeDone(writtenBytes, settings);
      if (done === 'rewrite')
        await restoreFiles(fileJob('restore', [file]), { ...settings, delta: undefined });
      else if (done !== undefined) add(done, true);
    },
  });
  // While the workers sync their files: directory modes and owners (now that their contents exist), then what the
  // caller adds to the data directory, which takes the data directory's final mode and owner.
  const finishing = async (): Promise<void> => {
    await restoreDirectoryAttributes(directories, options.restoreOwner);
    await options.beforeControl?.();
  };
  await Promise.all([pool.runOnEach({ type: 'flush' }), finishing()]);
  // Everything is durable before pg_control lands: the directories too, many at once (one after another, they
  // cost a delta restore, which writes little else, 25-100 ms of its 0.5-1 s on a pgbench data directory).
  await syncPaths(
    directories.map(({ path }) => path),
    { skipMissing: false },
  );
  // Never kept by --delta: delta-clean.ts removed it before anything else changed.
  add(await pool.run({ type: 'restore', files: [controlFile], settings: { ...settings, delta: undefined } }));
  await pool.runOnEach({ type: 'flush' });
  await syncPath(dirname(destinationOf(CONTROL_FILE, targets)), false);
  return totals;
}

/** Range jobs and jobs of files in one list, the largest first (both lists come largest first). */
function largestJobsFirst(ranges: readonly RangeJob[], fileJobs: readonly FileJob[]): (RangeJob | FileJob)[] {
  const jobs: (RangeJob | FileJob)[] = [];
  let next = 0;
  for (const job of fileJobs) {
    while (next < ranges.length && (ranges[next] as RangeJob).bytes >= job.bytes)
      jobs.push(ranges[next++] as RangeJob);
    jobs.push(job);
  }
  while (next < ranges.length) jobs.push(ranges[next++] as RangeJob);
  return jobs;
}

/** Whether `path` is a symbolic link to `destination`. */
async function linksTo(path: string, destination: string): Promise<boolean> {
  try {
    return (await readlink(path)) === destination;
  } catch {
    return false;
  }
}

/** A directory of the manifest and where this restore made it. */
interface RestoredDirectory {
  readonly entry: ManifestPath;
  readonly path: string;
}

/** Gives each restored directory the mode and (as root) owner the manifest records. */
async function restoreDirectoryAttributes(
  directories: readonly RestoredDirectory[],
  restoreOwner: boolean,
): Promise<void> {
  for (const { entry, path } of directories) {
    const handle = await open(path, 'r');
    try {
      await handle.chmod(entry.mode);
      if (restoreOwner) {
        const { uid, gid } = ownerIds(entry);
        await chown(path, uid, gid);
      }
    } finally {
      await handle.close();
    }
  }
}
