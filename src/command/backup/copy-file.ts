// Copies one data directory file into the backup: hash, size, page checksums, compression, encryption.
import { errnoOf, wrapError } from '../../common/errors.js';
import { CHUNK_SIZE } from '../../io/chunker.js';
import { compressExtension } from '../../io/compress.js';
import { PageChecksumFilter, PageVerifier } from '../../io/filter/page-checksum.js';
import { isRelationFile, type DataDirEntry } from '../../postgres/data-dir.js';
import type { CompressSettings, Repository } from '../../repo/repository.js';
import { openFile, type FileIo } from '../../storage/file-io.js';
import { FileReadStream } from '../../storage/file-read-stream.js';

export interface FileCopySettings {
  /** Repository path of the backup, e.g. 'backup/main/20261121-101500F'. */
  readonly backupPath: string;
  readonly compress: CompressSettings;
  /** Verify PostgreSQL page checksums of relation files (the cluster has data checksums). */
  readonly checksumPage: boolean;
  /**
   * The backup's start LSN: a page with an LSN at or past it was written during the backup and may be torn in
   * the copy; WAL replay rewrites it, so its checksum is not judged (as pgBackRest does).
   */
  readonly startLsn: bigint;
}

/** What one copy measured; `invalidPages` lists pages (from 0) whose checksum failed. */
export interface CopiedFile {
  readonly size: number;
  readonly sha256: string;
  readonly repoSize: number;
  readonly invalidPages: readonly number[];
}

/**
 * Copies one file; undefined when it vanished since it was listed (a dropped table: WAL replay recreates the
 * state). Bytes appended after listing are copied too; replay makes the copy consistent.
 */
export async function copyFile(
  repo: Repository,
  entry: Pick<DataDirEntry, 'name' | 'absolutePath' | 'size'>,
  settings: FileCopySettings,
): Promise<CopiedFile | undefined> {
  let file: FileIo;
  try {
    // Blocking reads: this runs on a worker thread of its own (see storage/file-io.ts).
    file = await openFile(entry.absolutePath, 'r', { blocking: true });
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw wrapError('fileOpen', `unable to open '${entry.absolutePath}' for read`, error);
  }
  const relation = settings.checksumPage ? isRelationFile(entry.name) : undefined;
  const pageOptions =
    relation === undefined ? undefined : { segmentNo: relation.segmentNo, lsnLimit: settings.startLsn };
  const target = `${settings.backupPath}/${entry.name}${compressExtension(settings.compress.type)}`;
  // Not synced one by one: the backup flushes every file once before it writes the manifest.
  if (entry.size <= CHUNK_SIZE) {
    const data = await readWhole(file, entry.absolutePath, entry.size);
    if (data !== undefined) {
      const verifier = pageOptions === undefined ? undefined : new PageVerifier(pageOptions);
      verifier?.update(data);
      const stored = await repo.putBuffer(data, target, settings.compress, { sync: false });
      return { ...stored, invalidPages: verifier?.invalidPages ?? [] };
    }
  }
  const source = new FileReadStream(file, {
    path: entry.absolutePath,
    offset: 0,
    end: Infinity,
    sizeHint: entry.size,
  });
  const pageFilter = pageOptions === undefined ? undefined : new PageChecksumFilter(pageOptions);
  const stored = await repo.put(source, target, settings.compress, {
    extra: pageFilter === undefined ? [] : [pageFilter],
    sync: false,
  });
  return { ...stored, invalidPages: pageFilter?.invalidPages ?? [] };
}

/**
 * Reads a file listed at `size` bytes whole and closes it; undefined (the file left open) when it has grown
 * since (the caller streams it instead). Most files of a data directory are small, and for them a stream per
 * file costs more than the data.
 */
async function readWhole(file: FileIo, path: string, size: number): Promise<Buffer | undefined> {
  // One byte more than expected tells a file that grew.
  const buffer = Buffer.allocUnsafe(size + 1);
  let used = 0;
  try {
    for (;;) {
      const read = await file.read(buffer, used, Math.min(buffer.length - used, file.readSize), used);
      if (read === 0) break;
      used += read;
      if (used === buffer.length) return undefined;
    }
  } catch (error) {
    await file.close().catch(() => undefined);
    throw wrapError('fileRead', `unable to read '${path}'`, error);
  }
  await file.close();
  return buffer.subarray(0, used);
}
