// Copies one data directory file into the backup: hash, size, page checksums, compression, encryption.
import { errnoOf, wrapError } from '../../common/errors.js';
import { CHUNK_SIZE } from '../../io/chunker.js';
import { COMPRESS_CONCURRENCY } from '../../io/compress.js';
import { PageVerifier } from '../../io/page-checksum.js';
import type { ChunkStage } from '../../io/stage.js';
import { isRelationFile, type DataDirEntry } from '../../postgres/data-dir.js';
import { BLOCK_FILE_MIN } from '../../repo/block-map.js';
import type { ManifestBlocks, ManifestFile } from '../../repo/manifest.js';
import type { CompressSettings, Repository } from '../../repo/repository.js';
import { ChunkBuffers, readChunks } from '../../storage/file-chunks.js';
import { openFile, type FileIo } from '../../storage/file-io.js';
import { copyBlocks } from './copy-blocks.js';

export interface FileCopySettings {
  /** Label of the backup the files go into, e.g. '20261121-101500F'. */
  readonly label: string;
  readonly compress: CompressSettings;
  /** Verify PostgreSQL page checksums of relation files (the cluster has data checksums). */
  readonly checksumPage: boolean;
  /**
   * The backup's start LSN: a page with an LSN at or past it was written during the backup and may be torn in
   * the copy; WAL replay rewrites it, so its checksum is not judged (as pgBackRest does).
   */
  readonly startLsn: bigint;
  /** repoN-block: a file of BLOCK_FILE_MIN bytes or more is stored as blocks (copy-blocks.ts). */
  readonly block?: boolean | undefined;
}

/**
 * Chunk buffers this thread reuses (see storage/file-chunks.ts): for each of the files a worker copies at once,
 * those its compression window holds, the one being read and a spare.
 */
const chunkBuffers = new ChunkBuffers(CHUNK_SIZE, 2 * (COMPRESS_CONCURRENCY + 2));

/** Files at least this large are made durable as they complete (see copyFile). */
const SYNC_AT_ONCE_BYTES = 1024 * 1024;

/** What one copy measured; `invalidPages` lists pages (from 0) whose checksum failed. */
export interface CopiedFile {
  readonly size: number;
  readonly sha256: string;
  readonly repoSize: number;
  readonly invalidPages: readonly number[];
  /** How the file's blocks are stored, when it was copied as blocks. */
  readonly block?: ManifestBlocks | undefined;
}

/** Opens a data directory file to copy; undefined when it vanished since it was listed. */
export async function openSourceFile(path: string): Promise<FileIo | undefined> {
  try {
    // Blocking reads: this runs on a worker thread of its own (see storage/file-io.ts).
    return await openFile(path, 'r', { blocking: true });
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw wrapError('fileOpen', `unable to open '${path}' for read`, error);
  }
}

/** The page checksum check of a relation file `name`, when the backup checks pages; else undefined. */
export function pageVerifierFor(name: string, settings: FileCopySettings): PageVerifier | undefined {
  const relation = settings.checksumPage ? isRelationFile(name) : undefined;
  return relation === undefined
    ? undefined
    : new PageVerifier({ segmentNo: relation.segmentNo, lsnLimit: settings.startLsn });
}

/**
 * Copies one file; undefined when it vanished since it was listed (a dropped table: WAL replay recreates the
 * state). Bytes appended after listing are copied too; replay makes the copy consistent.
 */
export async function copyFile(
  repo: Repository,
  entry: Pick<DataDirEntry, 'name' | 'absolutePath' | 'size'>,
  settings: FileCopySettings,
  /** The file's entry in the prior backup: a block-stored one is the base a block-incremental copy compares with. */
  prior?: ManifestFile,
  /** Sees every chunk read (the backup's progress counter). */
  progress?: ChunkStage,
): Promise<CopiedFile | undefined> {
  const file = await openSourceFile(entry.absolutePath);
  if (file === undefined) return undefined;
  try {
    const verifier = pageVerifierFor(entry.name, settings);
    if (settings.block === true && entry.size >= BLOCK_FILE_MIN) {
      const source = readChunks(file, entry.absolutePath, {
        chunkSize: CHUNK_SIZE,
        sizeHint: entry.size,
        buffers: chunkBuffers,
      });
      const copied = await copyBlocks(
        repo,
        entry,
        source,
        {
          label: settings.label,
          compress: settings.compress,
          sync: true,
          // Progress sees every chunk read, as on the whole-file path: a block-stored file is read whole too.
          stages: [verifier, progress].filter((stage) => stage !== undefined),
          buffers: chunkBuffers,
        },
        prior,
      );
      return { ...copied, invalidPages: verifier?.invalidPages ?? [] };
    }
    const chunks = readChunks(file, entry.absolutePath, {
      chunkSize: CHUNK_SIZE,
      sizeHint: entry.size,
      buffers: chunkBuffers,
    });
    // Small files are not synced one by one (the backup flushes them together, for a resume as it goes, and
    // before it writes the manifest); a large one is synced as it completes, so the durable part of the backup, all
    // a resume can keep, stays close to what was copied (see resume.ts).
    const stored = await repo.backups.putFile(settings.label, entry.name, chunks, settings.compress, {
      sync: entry.size >= SYNC_AT_ONCE_BYTES,
      release: (chunk) => chunkBuffers.give(chunk),
      stages: [verifier, progress].filter((stage) => stage !== undefined),
    });
    return { ...stored, invalidPages: verifier?.invalidPages ?? [] };
  } finally {
    await file.close();
  }
}
