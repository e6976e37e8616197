// The one push path: stores one WAL file in every repository given (archive-push, and async archive-push's background).
import { createHash } from 'node:crypto';
import { isPgStashError, messageOf, PgStashError, wrapError } from '../../common/errors.js';
import { log } from '../../common/log.js';
import { CHUNK_SIZE } from '../../io/chunker.js';
import { COMPRESS_CONCURRENCY } from '../../io/compress.js';
import { describeDb } from '../../repo/db-history.js';
import { archiveId } from '../../repo/layout.js';
import { Repository, type CompressSettings, type UnopenedRepository } from '../../repo/repository.js';
import { ChunkBuffers, readChunks } from '../../storage/file-chunks.js';
import { openFile } from '../../storage/file-io.js';
import type { WalSource } from './wal-source.js';

/** Chunk buffers a push keeps for reuse: those the compression window holds, the one being read, and a spare. */
const REUSED_CHUNKS = COMPRESS_CONCURRENCY + 2;

/** The WAL file in whole chunks, as Repository.putChunks takes them, read into `buffers`. */
async function* walChunks(path: string, buffers: ChunkBuffers): AsyncGenerator<Buffer> {
  const file = await openFile(path, 'r', { blocking: false }).catch((error: unknown) => {
    throw wrapError('fileOpen', `unable to open WAL file '${path}'`, error);
  });
  try {
    const { size } = await file.stat();
    yield* readChunks(file, path, { chunkSize: CHUNK_SIZE, sizeHint: size, buffers });
  } finally {
    await file.close();
  }
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  const buffers = new ChunkBuffers(CHUNK_SIZE, 1);
  for await (const chunk of walChunks(path, buffers)) {
    hash.update(chunk);
    buffers.give(chunk);
  }
  return hash.digest('hex');
}

/** The WAL file's content, read into a few reused buffers: `release` hands each one back once it is stored. */
function walInput(wal: WalSource): { chunks: AsyncGenerator<Buffer>; release: (chunk: Buffer) => void } {
  const buffers = new ChunkBuffers(CHUNK_SIZE, REUSED_CHUNKS);
  return { chunks: walChunks(wal.path, buffers), release: (chunk) => buffers.give(chunk) };
}

/** Pushes to one repository; resolves to a warning when it was already there with the same content. */
async function pushToRepository(repo: Repository, wal: WalSource, compress: CompressSettings): Promise<void> {
  const info = await repo.requireArchiveInfo();
  const db = info.current;
  if (wal.cluster !== undefined) {
    const walDb = { version: wal.cluster.pgVersion ?? 'unknown', systemId: wal.cluster.systemId };
    if (
      walDb.systemId !== db.systemId ||
      (wal.cluster.pgVersion !== undefined && walDb.version !== db.version)
    ) {
      throw new PgStashError(
        'archiveMismatch',
        `WAL file '${wal.path}' (${describeDb(walDb)}) does not match stanza '${repo.stanza}' in ${repo.name} (${describeDb(db)})`,
        { hint: 'is archive_command on this cluster using the right --stanza and repository?' },
      );
    }
  }
  const id = archiveId(db.version, db.id);
  const existing = await repo.wal.find(id, wal.name);
  if (existing !== undefined) {
    const sha256 = await sha256OfFile(wal.path);
    if (sha256 !== existing.sha256) {
      throw new PgStashError(
        'archiveDuplicate',
        `WAL file '${wal.name}' already exists in the ${repo.name} archive with a different checksum`,
        { hint: 'this is either a new cluster writing to the same stanza, or the archive is damaged' },
      );
    }
    log.warn(`WAL file '${wal.name}' already exists in the ${repo.name} archive with the same checksum`);
    return;
  }
  await repo.wal.put(
    id,
    wal.name,
    { chunks: () => walInput(wal), sha256: () => sha256OfFile(wal.path) },
    compress,
  );
  log.detail(`pushed WAL file '${wal.name}' to ${repo.name} archive ${id}`);
}

/**
 * Stores `wal` in every repository of `repos`, each with its own compression (`compressFor`); resolves once every
 * copy is durable. Every repository gets its copy even when another fails; any failure makes the push fail so
 * PostgreSQL keeps the segment and retries, and the retry skips the repositories that already hold it.
 */
export async function pushWal(
  repos: readonly (Repository | UnopenedRepository)[],
  wal: WalSource,
  compressFor: (repo: Repository) => CompressSettings,
): Promise<void> {
  const results = await Promise.allSettled(
    repos.map((repo) =>
      repo instanceof Repository
        ? pushToRepository(repo, wal, compressFor(repo))
        : Promise.reject(repo.error),
    ),
  );
  const failures = results.flatMap((result, index) =>
    result.status === 'rejected'
      ? [{ repo: repos[index] as Repository | UnopenedRepository, error: result.reason as unknown }]
      : [],
  );
  if (failures.length === 0) return;
  if (failures.length === 1 && repos.length === 1) throw failures[0]?.error;
  for (const { repo, error } of failures) log.error(`${repo.name}: ${messageOf(error)}`);
  const first = failures[0]?.error;
  throw new PgStashError(
    isPgStashError(first) ? first.kind : 'runtime',
    `archive-push of '${wal.name}' failed on ${failures.map((failure) => failure.repo.name).join(', ')}`,
  );
}
