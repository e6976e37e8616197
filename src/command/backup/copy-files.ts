// Copies the data directory and tablespaces into a backup, in parallel, building the manifest's file lists.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Transform } from 'node:stream';
import { errnoOf } from '../../common/errors.js';
import { compressExtension } from '../../io/compress.js';
import { log } from '../../common/log.js';
import { groupName, userName } from '../../common/os-users.js';
import { PageChecksumFilter } from '../../io/filter/page-checksum.js';
import { runParallel } from '../../io/parallel.js';
import { isRelationFile, listDataDir, type DataDirEntry, type Tablespace } from '../../postgres/data-dir.js';
import type { ManifestFile, ManifestLink, ManifestOwner, ManifestPath } from '../../repo/manifest.js';
import type { CompressSettings, Repository } from '../../repo/repository.js';
import { throwIfAborted } from '../context.js';

const CONTROL_FILE = 'pg_data/global/pg_control';

export interface CopyOptions {
  readonly pgPath: string;
  readonly pgVersion: string;
  readonly tablespaces: readonly Tablespace[];
  /** Repository path of the backup, e.g. 'backup/main/20261121-101500F'. */
  readonly backupPath: string;
  readonly compress: CompressSettings;
  readonly processMax: number;
  /** Verify PostgreSQL page checksums of relation files (the cluster has data checksums). */
  readonly checksumPage: boolean;
  /**
   * The backup's start LSN: a page with an LSN at or past it was written during the backup and may be torn in
   * the copy; WAL replay rewrites it, so its checksum is not judged (as pgBackRest does).
   */
  readonly startLsn: bigint;
  readonly signal: AbortSignal;
}

export interface CopiedTree {
  readonly paths: ManifestPath[];
  readonly links: ManifestLink[];
  readonly files: ManifestFile[];
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

/**
 * Copies one file. A file that vanished since it was listed (a dropped table) is skipped: WAL replay
 * recreates the state. Bytes appended after listing are copied too; replay makes the copy consistent.
 */
async function copyFile(
  repo: Repository,
  entry: DataDirEntry,
  options: CopyOptions,
): Promise<ManifestFile | undefined> {
  throwIfAborted(options.signal);
  let handle;
  try {
    handle = await open(entry.absolutePath, 'r');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') {
      log.detail(`skip file '${entry.absolutePath}': removed during the backup`);
      return undefined;
    }
    throw error;
  }
  // Read buffers sized to the file (most are small): a fixed 1 MiB per read would churn the garbage collector.
  const highWaterMark = Math.min(1024 * 1024, Math.max(64 * 1024, entry.size));
  const source = createReadStream(entry.absolutePath, { fd: handle, highWaterMark });
  const extra: Transform[] = [];
  let pageFilter: PageChecksumFilter | undefined;
  const relation = options.checksumPage ? isRelationFile(entry.name) : undefined;
  if (relation !== undefined) {
    pageFilter = new PageChecksumFilter({ segmentNo: relation.segmentNo, lsnLimit: options.startLsn });
    extra.push(pageFilter);
  }
  const ext = compressExtension(options.compress.type);
  // Not synced one by one: the backup flushes every file once before it writes the manifest.
  const stored = await repo.put(source, `${options.backupPath}/${entry.name}${ext}`, options.compress, {
    extra,
    sync: false,
  });
  const invalid = pageFilter?.invalidPages ?? [];
  if (invalid.length > 0) {
    log.warn(`invalid page checksums found in file ${entry.absolutePath} at pages ${invalid.join(', ')}`);
  }
  return {
    name: entry.name,
    size: stored.size,
    mtime: entry.mtime,
    sha256: stored.sha256,
    repoSize: stored.repoSize,
    ...ownerOf(entry),
    ...(invalid.length > 0 ? { pageChecksumErrors: invalid } : {}),
  };
}

/** Walks and copies everything; paths and links are recorded as they are met, files as their copies finish. */
export async function copyDataDirectory(repo: Repository, options: CopyOptions): Promise<CopiedTree> {
  const tree: CopiedTree = { paths: [], links: [], files: [] };
  let controlFile: DataDirEntry | undefined;
  async function* filesToCopy(): AsyncIterable<DataDirEntry> {
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
      else yield entry;
    }
  }
  await runParallel(filesToCopy(), {
    concurrency: options.processMax,
    worker: (entry) => copyFile(repo, entry, options),
    onResult: (file) => {
      if (file !== undefined) tree.files.push(file);
    },
  });
  // pg_control is copied after everything else, as pg_basebackup does.
  if (controlFile !== undefined) {
    const copied = await copyFile(repo, controlFile, options);
    if (copied !== undefined) tree.files.push(copied);
  }
  tree.files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return tree;
}
