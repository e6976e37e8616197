// Waits until WAL segments are in every repository's archive, or fails after archive-timeout.
import { setTimeout as sleep } from 'node:timers/promises';
import { PgStashError } from '../../common/errors.js';
import type { Repository } from '../../repo/repository.js';
import type { ArchivedWal } from '../../repo/wal-archive.js';

export interface ArchivedSegment extends ArchivedWal {
  readonly repo: Repository;
  readonly walFile: string;
}

/**
 * Polls for a segment less and less often, up to once a second: a segment archived at once is seen soon after, and
 * waiting for a slow archiver costs a lookup a second, not ten. On a file system a lookup is a directory read, a
 * fraction of a millisecond: at once, then at 20 ms growing by a quarter, so the segment of a backup's stop, which
 * the archiver runs a new archive-push for (100-150 ms here), is seen within a few tens of milliseconds (at 100, 300,
 * 700 ms it waited until the 300 ms lookup, a tenth of a full backup of pgbench scale 50). On an object store a
 * lookup is a listing request, and archive-push takes 250-400 ms there (a new process, the SDK, a TLS handshake,
 * three requests): the first lookup comes 150 ms into the wait, the next ones 150 ms apart growing by half (150,
 * 300, 525, 862, 1368 ms...). Before, at 0, 100, 300 and 700 ms, the lookup at once always missed and a segment
 * stored at 350 ms waited until 700 (pgbench scale 50 on versitygw: a tenth of the backup). Growing by a quarter
 * found it at 487 ms but made two listings more in the first five seconds of a slow archiver (10 against 8):
 * by half makes as many as before, one second apart once past the first second.
 */
const POLL = {
  objectStore: { firstLookupMs: 150, firstMs: 150, growth: 1.5 },
  fileSystem: { firstLookupMs: 0, firstMs: 20, growth: 1.25 },
} as const;
const MAX_POLL_MS = 1000;

/**
 * Resolves once every segment in `walFiles` is archived in every repository (checked oldest first, so the wait
 * follows the archiver), returning where each one is. Fails with archiveTimeout (82) naming the first missing.
 */
export async function waitForArchive(
  repos: readonly Repository[],
  walFiles: readonly string[],
  timeoutSec: number,
  /** The archive id of a repository, when the caller has read its archive.info already. */
  knownIds?: ReadonlyMap<Repository, string>,
): Promise<ArchivedSegment[]> {
  const began = Date.now();
  const deadline = began + timeoutSec * 1000;
  const found: ArchivedSegment[] = [];
  for (const repo of repos) {
    const id = knownIds?.get(repo) ?? (await repo.wal.currentId());
    const poll = repo.objectStore ? POLL.objectStore : POLL.fileSystem;
    for (const walFile of walFiles) {
      let interval: number = poll.firstMs;
      // Only the wait's first lookups are held back: by a later segment or repository the time has passed.
      const early = began + poll.firstLookupMs - Date.now();
      if (early > 0) await sleep(early);
      while (true) {
        const archived = await repo.wal.find(id, walFile);
        if (archived !== undefined) {
          found.push({ repo, walFile, ...archived });
          break;
        }
        if (Date.now() >= deadline) {
          throw new PgStashError(
            'archiveTimeout',
            `WAL segment ${walFile} was not archived to ${repo.name} before the ${timeoutSec}s archive-timeout`,
            {
              hint: 'check archive_command and the PostgreSQL log (pg_stat_archiver shows the last failure)',
            },
          );
        }
        await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
        interval = Math.min(interval * poll.growth, MAX_POLL_MS);
      }
    }
  }
  return found;
}
