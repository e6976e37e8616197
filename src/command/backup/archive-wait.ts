// Waits for the backup's WAL to reach the archive and, with archive-copy, stores it in the backup
// (pgBackRest's backupArchiveCheckCopy).
import { PgStashError } from '../../common/errors.js';
import { log } from '../../common/log.js';
import { wholeChunks } from '../../io/chunker.js';
import type { ManifestFile } from '../../repo/manifest.js';
import type { Repository } from '../../repo/repository.js';
import { waitForArchive } from '../archive/wait.js';
import { throwIfAborted } from '../context.js';
import { putGenerated, type GeneratedFileSettings } from './generated-file.js';

export interface ArchiveWaitOptions {
  /** Wait for the segments at all (archive-check or archive-copy). */
  readonly check: boolean;
  /** Store the segments in the backup (archive-copy). */
  readonly copy: boolean;
  readonly timeoutSec: number;
  /** The backup's first and last segment, for the log. */
  readonly walStart: string;
  readonly walStop: string;
  /** The archive id to look in (backupInit read archive.info: not read again). */
  readonly archiveId: string;
  readonly generated: GeneratedFileSettings;
  readonly signal: AbortSignal;
}

/**
 * Waits until `segments` (the backup's WAL, start to stop) are archived in `repo`; with `copy`, stores each one
 * in backup `label` as pg_data/pg_wal/<segment>. Resolves to the stored files and the time waited (undefined
 * when there was no wait).
 */
export async function archiveWait(
  repo: Repository,
  label: string,
  segments: readonly string[],
  options: ArchiveWaitOptions,
): Promise<{ files: ManifestFile[]; waitMs: number | undefined }> {
  const files: ManifestFile[] = [];
  if (!options.check && !options.copy) return { files, waitMs: undefined };
  log.info(`waiting for WAL ${options.walStart} to ${options.walStop} to reach the archive`);
  const waitStarted = performance.now();
  const archived = await waitForArchive(
    [repo],
    segments,
    options.timeoutSec,
    new Map([[repo, options.archiveId]]),
  );
  const waitMs = performance.now() - waitStarted;
  if (options.copy) {
    for (const segment of archived) {
      throwIfAborted(options.signal);
      // The archived copy decoded, re-encoded here as it is read, and checked after its last chunk: a mismatch
      // fails the write, which leaves nothing.
      const chunks = await repo.wal.read(segment);
      if (chunks === undefined) {
        throw new PgStashError(
          'fileMissing',
          `archived WAL file '${segment.walFile}' is missing in ${repo.name}`,
        );
      }
      const name = `pg_data/pg_wal/${segment.walFile}`;
      files.push(await putGenerated(repo, label, name, wholeChunks(chunks), options.generated));
    }
  }
  return { files, waitMs };
}
