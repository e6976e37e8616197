// Checks a large restored file's SHA-256 by reading it back as a worker writes it, on a thread with time to spare.
//
// Why: a file that runs alone on its worker (copy-order.ts) is the restore's longest chain, and hashing it there
// cost that thread 0.45 s of its 2.4 s on a 640 MiB table. Read back from the page cache on the main thread,
// which only hands out jobs, the same check happens beside the writing instead of inside it. It checks the bytes
// that reached the file, not only those handed to write().
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { PgStashError, wrapError } from '../../common/errors.js';
import type { CompressType } from '../../io/compress.js';
import type { WriteProgress } from '../../io/worker/write-progress.js';

/**
 * Whether a large file is hashed here rather than by its worker: only when its worker decodes it on its own thread
 * (lz4; zstd and gzip decode on libuv's pool), which makes that thread the restore's bottleneck, and only when a
 * core is left over for the reading and hashing (fewer workers than cores). Otherwise the second read of the
 * file only adds to the load. Measured on the pgbench table, 2 cores, medians of 8: lz4 with 1 worker 3.08 s
 * against 3.62 s; with 2 workers 2.59 s against 2.55 s; zst and uncompressed with 2 workers were 3-7% slower.
 */
export function verifiesAsWritten(type: CompressType, workers: number): boolean {
  return type === 'lz4' && workers < availableParallelism();
}

/** Read size: large reads through libuv's pool, into one buffer reused for the whole file. */
const READ_SIZE = 1024 * 1024;

export interface WrittenFile {
  /** The file being written. */
  readonly path: string;
  /** What the manifest says it holds. */
  readonly size: number;
  readonly sha256: string;
  /** The repository file it comes from, for the error message. */
  readonly source: string;
}

/**
 * Hashes `file.path` as `progress` reports it written, up to `file.size`, and fails with a checksum error (26)
 * when the content is not the manifest's. Resolves without a verdict when the writer fails or `job` (the write)
 * ends without reaching the size: the job's own error then tells what happened, and the caller awaits both.
 */
export async function verifyAsWritten(
  file: WrittenFile,
  progress: WriteProgress,
  job: Promise<unknown>,
): Promise<void> {
  if ((await progress.beyond(-1, job)) === undefined) return;
  let handle: FileHandle;
  try {
    handle = await open(file.path, 'r');
  } catch (error) {
    throw wrapError('fileOpen', `unable to open '${file.path}' to verify it`, error);
  }
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(Math.min(READ_SIZE, Math.max(file.size, 1)));
    let hashed = 0;
    while (hashed < file.size) {
      const written = await progress.beyond(hashed, job);
      if (written === undefined) return;
      // Never past the manifest's size: a longer file fails the writer's own size check.
      const until = Math.min(written, file.size);
      while (hashed < until) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, until - hashed), hashed);
        if (bytesRead === 0) throw new PgStashError('checksum', `'${file.path}' is shorter than reported`);
        hash.update(buffer.subarray(0, bytesRead));
        hashed += bytesRead;
      }
    }
    const sha256 = hash.digest('hex');
    if (sha256 !== file.sha256) {
      throw new PgStashError(
        'checksum',
        `'${file.source}' is corrupt: restored '${file.path}' has checksum ${sha256}, expected ${file.sha256}`,
      );
    }
  } finally {
    await handle.close();
  }
}
