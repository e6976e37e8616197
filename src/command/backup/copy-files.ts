// Copies the data directory and tablespaces into a backup on process-max worker threads, building the manifest.
import { PgStashError } from '../../common/errors.js';
import { log } from '../../common/log.js';
import { groupName, userName } from '../../common/os-users.js';
import { runParallel } from '../../io/parallel.js';
import { WorkerPool } from '../../io/worker/pool.js';
import { listDataDir, type DataDirEntry, type Tablespace } from '../../postgres/data-dir.js';
import type {
  FileStorage,
  ManifestFile,
  ManifestLink,
  ManifestOwner,
  ManifestPath,
} from '../../repo/manifest.js';
import type { Repository } from '../../repo/repository.js';
import { largestFirst, poolOptionsFor } from '../copy-order.js';
import { ProgressReporter, type ProgressSettings } from '../progress/reporter.js';
import type { BackupJob, BackupJobResult, BackupWorkerData } from './backup-worker.js';
import type { FileCopySettings } from './copy-file.js';
import { bundleWork, type BundleSettings } from './bundle-plan.js';
import type { BundledFile } from './copy-bundle.js';
import { backupProgressRecorder } from './progress-record.js';
import { copyStart, untilStarted } from './copy-start.js';

const CONTROL_FILE = 'pg_data/global/pg_control';
/**
 * Files one worker thread copies at once: while one waits for the compressor (libuv's pool), the thread works on
 * the other. Measured on a 322 MB data directory, 2 was as fast as 4 and used less memory.
 */
const JOBS_PER_WORKER = 2;

export interface CopyOptions extends FileCopySettings {
  readonly pgPath: string;
  readonly pgVersion: string;
  readonly tablespaces: readonly Tablespace[];
  readonly processMax: number;
  readonly signal: AbortSignal;
  /** How the copied files are stored, recorded in each file's manifest entry. */
  readonly storage: FileStorage;
  /**
   * Called on the main thread before a file is handed to a worker: a returned entry is used as is and the file
   * is not copied (a resumed backup's file that still verifies, or a diff/incr's unchanged file held by an
   * earlier backup). pg_control is always copied.
   */
  readonly reuse?: (entry: DataDirEntry) => Promise<ManifestFile | undefined>;
  /** repoN-block: the prior backup's entry of a file, whose block map a changed file is compared with. */
  readonly blockPrior?: ((name: string) => ManifestFile | undefined) | undefined;
  /** Told of every file the backup holds, with a way to make the copies so far durable (resume's journal). */
  readonly recorder?: CopyRecorder;
  /** How the copy reports its progress (live line, log, the record `info` reads). */
  readonly progress: ProgressSettings;
  /** repoN-bundle: files under `limit` bytes go into bundles of about `size` original bytes (bundle-plan.ts). */
  readonly bundle?: BundleSettings | undefined;
  /** The second the backup's label names (label.ts): the earliest start copy-start.ts may pick. */
  readonly labelled: Date;
}

export interface CopyRecorder {
  copied(file: ManifestFile, flush: () => Promise<unknown>): void;
  /** Finishes what copied() started; called before the copy returns. */
  settle(): Promise<void>;
}

export interface CopiedTree {
  readonly paths: ManifestPath[];
  readonly links: ManifestLink[];
  readonly files: ManifestFile[];
  /** The backup's start (copy-start.ts): no file was read before it. */
  readonly started: Date;
}

export function ownerOf(entry: Pick<DataDirEntry, 'mode' | 'uid' | 'gid'>): ManifestOwner {
  return {
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    user: userName(entry.uid),
    group: groupName(entry.gid),
  };
}

type BackupPool = WorkerPool<BackupJob, BackupJobResult>;

/** One job of the copy: a file alone, or bundle `id` of small files; `size` orders them, largest first. */
type CopyWork =
  | { readonly entry: DataDirEntry; readonly name: string; readonly size: number }
  | {
      readonly entries: readonly DataDirEntry[];
      readonly id: number;
      readonly name: string;
      readonly size: number;
    };

/** Copies one file on a worker; the manifest entry, or undefined for a file removed since it was listed. */
async function copyOnWorker(
  pool: BackupPool,
  entry: DataDirEntry,
  storage: FileStorage,
  prior?: ManifestFile,
): Promise<ManifestFile | undefined> {
  const copied = await pool.run(
    {
      type: 'copy',
      entry: { name: entry.name, absolutePath: entry.absolutePath, size: entry.size },
      ...(prior === undefined ? {} : { prior }),
    },
    poolOptionsFor(entry.size),
  );
  if (copied === undefined) {
    log.detail(`skip file '${entry.absolutePath}': removed during the backup`);
    return undefined;
  }
  if (Array.isArray(copied)) throw new PgStashError('assert', 'a file copy returned a bundle');
  return manifestEntry(entry, copied, storage);
}

/** Copies small files into bundle `id` on a worker; each one's manifest entry, or undefined when it vanished. */
async function copyBundleOnWorker(
  pool: BackupPool,
  entries: readonly DataDirEntry[],
  bundle: { id: number; limit: number },
  storage: FileStorage,
): Promise<(ManifestFile | undefined)[]> {
  const copied = await pool.run(
    {
      type: 'bundle',
      entries: entries.map(({ name, absolutePath, size, mtime }) => ({ name, absolutePath, size, mtime })),
      ...bundle,
    },
    poolOptionsFor(entries.reduce((sum, entry) => sum + entry.size, 0)),
  );
  if (!Array.isArray(copied)) throw new PgStashError('assert', 'a bundle copy returned no list');
  return entries.map((entry, index) => {
    const file = copied[index];
    if (file !== undefined) return manifestEntry(entry, file, storage);
    log.detail(`skip file '${entry.absolutePath}': removed during the backup`);
    return undefined;
  });
}

/** The manifest entry of a file a worker copied (alone, as blocks, or into a bundle). */
function manifestEntry(entry: DataDirEntry, copied: BundledFile, storage: FileStorage): ManifestFile {
  const invalid = copied.invalidPages;
  if (invalid.length > 0) {
    log.warn(`invalid page checksums found in file ${entry.absolutePath} at pages ${invalid.join(', ')}`);
  }
  return {
    name: entry.name,
    size: copied.size,
    mtime: entry.mtime,
    sha256: copied.sha256,
    ...ownerOf(entry),
    ...(invalid.length > 0 ? { pageChecksumErrors: [...invalid] } : {}),
    stored: {
      ...storage,
      size: copied.repoSize,
      ...(copied.block === undefined ? {} : { block: copied.block }),
      ...(copied.bundle === undefined ? {} : { bundle: copied.bundle }),
    },
  };
}

/** SHA-256 of no bytes. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * The entry of a file listed empty: recorded in the manifest only, nothing stored (as pgBackRest). Bytes written
 * to it after the listing are in the WAL since the backup's start, which replay applies, as for any file copied
 * while it changes.
 */
function emptyFileEntry(entry: DataDirEntry, storage: FileStorage): ManifestFile {
  return {
    name: entry.name,
    size: 0,
    mtime: entry.mtime,
    sha256: EMPTY_SHA256,
    ...ownerOf(entry),
    stored: { ...storage, size: 0, empty: true },
  };
}

/**
 * Lists and copies everything; paths and links are recorded as they are met, files as their copies finish.
 * Every copied file is durable when this resolves.
 */
export async function copyDataDirectory(repo: Repository, options: CopyOptions): Promise<CopiedTree> {
  const key = await repo.requireKey();
  const progress = new ProgressReporter({
    command: 'backup',
    settings: options.progress,
    record: backupProgressRecorder(repo, options.label, options.progress.intervalMs),
  });
  const workerData: BackupWorkerData = {
    repo: repo.options,
    stanza: repo.stanza,
    key,
    settings: {
      label: options.label,
      compress: options.compress,
      checksumPage: options.checksumPage,
      startLsn: options.startLsn,
      block: options.block,
    },
    progress: progress.counter.buffer,
  };
  const pool: BackupPool = new WorkerPool(new URL('./backup-worker.js', import.meta.url), {
    size: options.processMax,
    jobsPerWorker: JOBS_PER_WORKER,
    workerData,
    signal: options.signal,
  });
  let copied = false;
  try {
    const tree = await copyWithPool(pool, options, progress);
    copied = true;
    return tree;
  } finally {
    // Recorded one last time once everything is copied: info shows 100% while the backup stops and waits for WAL.
    await progress.stop({ final: copied });
    await pool.close();
  }
}

async function copyWithPool(
  pool: BackupPool,
  options: CopyOptions,
  progress: ProgressReporter,
): Promise<CopiedTree> {
  const tree: Omit<CopiedTree, 'started'> = { paths: [], links: [], files: [] };
  let controlFile: DataDirEntry | undefined;
  // The whole tree is listed before any copy starts, so that files go to the workers largest first.
  const toCopy: DataDirEntry[] = [];
  for await (const entry of listDataDir(options.pgPath, {
    pgVersion: options.pgVersion,
    tablespaces: options.tablespaces,
  })) {
    if (entry.type === 'path') tree.paths.push({ name: entry.name, ...ownerOf(entry) });
    else if (entry.type === 'link')
      tree.links.push({
        name: entry.name,
        destination: entry.linkDestination ?? '',
        uid: entry.uid,
        gid: entry.gid,
        user: userName(entry.uid),
        group: groupName(entry.gid),
      });
    else if (entry.name === CONTROL_FILE) controlFile = entry;
    else toCopy.push(entry);
  }
  // Listed, and the workers started meanwhile: the start is picked now, and reading waits for it.
  const started = copyStart(options.labelled, Date.now(), toCopy);
  await untilStarted(started);
  const flush = () => pool.runOnEach({ type: 'flush' });
  const { reuse, recorder } = options;
  const totalBytes = toCopy.reduce((sum, entry) => sum + entry.size, controlFile?.size ?? 0);
  progress.start({ bytes: totalBytes, files: toCopy.length + (controlFile === undefined ? 0 : 1) });
  /** Copied on a worker (which counts the bytes as it reads them), or reused as it is (counted here). */
  const copyOrReuse = async (entry: DataDirEntry): Promise<ManifestFile | undefined> => {
    if (entry.size === 0) {
      progress.filesDone(1);
      return emptyFileEntry(entry, options.storage);
    }
    const reused = await reuse?.(entry);
    if (reused !== undefined) {
      progress.filesDone(1, entry.size);
      return reused;
    }
    const copied = await copyOnWorker(pool, entry, options.storage, options.blockPrior?.(entry.name));
    if (copied === undefined) progress.skipped(entry.size);
    else progress.filesDone(1);
    return copied;
  };
  const record = (file: ManifestFile | undefined): void => {
    if (file === undefined) return;
    tree.files.push(file);
    recorder?.copied(file, flush);
  };
  try {
    const { alone, bundles } =
      options.bundle === undefined
        ? { alone: toCopy, bundles: [] }
        : await bundleWork(toCopy, options.bundle, {
            block: options.block === true,
            reuse,
            progress,
            record,
          });
    const work: CopyWork[] = [
      ...alone.map((entry) => ({ entry, name: entry.name, size: entry.size })),
      ...bundles.map((bundle) => ({
        ...bundle,
        name: `bundle/${bundle.id}`,
        size: bundle.entries.reduce((sum, e) => sum + e.size, 0),
      })),
    ];
    await runParallel(work.sort(largestFirst), {
      concurrency: pool.submitAhead,
      worker: async (item): Promise<(ManifestFile | undefined)[]> => {
        if ('entry' in item) return [await copyOrReuse(item.entry)];
        const files = await copyBundleOnWorker(
          pool,
          item.entries,
          { id: item.id, limit: options.bundle?.limit ?? 0 },
          options.storage,
        );
        files.forEach((file, index) => {
          if (file === undefined) progress.skipped(item.entries[index]?.size ?? 0);
          else progress.filesDone(1);
        });
        return files;
      },
      onResult: (files) => files.forEach(record),
    });
  } finally {
    // Also on failure: no record may land after the caller went on (and perhaps removed the backup).
    await recorder?.settle();
  }
  // pg_control is copied after everything else, as pg_basebackup does.
  if (controlFile !== undefined) {
    const copied = await copyOnWorker(pool, controlFile, options.storage);
    if (copied !== undefined) tree.files.push(copied);
    progress.filesDone(1);
  }
  await flush();
  tree.files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { ...tree, started };
}
