// Waits for the backup's WAL to reach the archive and, with archive-copy, stores it in the backup
// (pgBackRest's backupArchiveCheckCopy).
import { PassThrough } from 'node:stream';
import { log } from '../../common/log.js';
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
  const archived = await waitForArchive([repo], segments, options.timeoutSec);
  const waitMs = performance.now() - waitStarted;
  if (options.copy) {
    for (const segment of archived) {
      throwIfAborted(options.signal);
      // Through a pass-through stream: the archived copy is decoded and checked, then re-encoded here.
      const pass = new PassThrough({ highWaterMark: 1024 * 1024 });
      const stored = putGenerated(repo, label, `pg_data/pg_wal/${segment.walFile}`, pass, options.generated);
      try {
        await repo.get(segment.path, pass, { sha256: segment.sha256 });
      } catch (error) {
        pass.destroy(error as Error);
        await stored.catch(() => undefined);
        throw error;
      }
      files.push(await stored);
    }
  }
  return { files, waitMs };
}
