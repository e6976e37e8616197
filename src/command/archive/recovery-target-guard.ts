// Whether a failed archive-get may leave archive recovery running: when PostgreSQL's recovery target guards it.
//
// archive-get in archive recovery exits fatally on an error (recovery-exit.ts), because PostgreSQL takes any other
// failure of restore_command for the end of the archive and, without a target, promotes there. But PostgreSQL
// 15 reads WAL ahead of replay (recovery_prefetch): it asks for segments past its recovery target, and a fatal
// exit for one of those stops a recovery that would have reached its target first.
//
// With a recovery target, PostgreSQL itself refuses to end early: when WAL runs out before the target is reached
// it stops with FATAL "recovery ended before configured recovery target was reached" and does not promote
// (PostgreSQL 13+, PerformWalRecovery). So for a server with a target, a non-fatal failure is safe: either replay
// reaches the target before it needs the segment (the read-ahead failure is forgotten) or recovery stops there,
// unpromoted, and starting the server again once the archive is repaired carries on. That holds whatever the
// target's kind (time, xid, name, lsn, immediate), where the segment lies relative to it cannot be known.
// PostgreSQL 12 does not: out of WAL before its target, it ends recovery and promotes there. So for a data
// directory whose PG_VERSION is below 13, or cannot be read, every failure stays fatal (12 does not read ahead).
//
// Two cases stay fatal, because PostgreSQL would go on after a "not found" rather than stop:
// - timeline history files: a missing one changes which timeline recovery follows (and which new timeline a
//   promotion picks), silently;
// - a segment of which an older timeline holds a copy (in the archive or in pg_wal): PostgreSQL tries the
//   timelines of the history newest first and would replay the older timeline's copy past the switch point.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseWalFileName } from '../../postgres/wal-name.js';
import { runningRecoveryTarget, type RecoveryTarget } from '../../postgres/recovery-target.js';
import type { Repository } from '../../repo/repository.js';

/**
 * The recovery target that guards recovery against the failed fetch of `walFileName` by the server in `dataDir`
 * (see above), or undefined when the failure must stop recovery. `repos` are the repositories archive-get reads
 * (undefined when they could not be opened); one that cannot be searched for an older timeline's copy counts as
 * holding one.
 */
export async function targetGuardingFailure(
  walFileName: string,
  dataDir: string,
  repos: readonly Repository[] | undefined,
): Promise<RecoveryTarget | undefined> {
  const name = parseWalFileName(walFileName);
  if (name?.kind !== 'segment') return undefined;
  if (!stopsShortOfTarget(dataDir)) return undefined;
  const target = runningRecoveryTarget(dataDir);
  if (target === undefined) return undefined;
  for (let timeline = 1; timeline < name.timeline; timeline++) {
    const older = `${timeline.toString(16).toUpperCase().padStart(8, '0')}${walFileName.slice(8)}`;
    if (repos === undefined || existsSync(join(dataDir, 'pg_wal', older))) return undefined;
    for (const repo of repos) {
      if (await heldBy(repo, older).catch(() => true)) return undefined;
    }
  }
  return target;
}

/** Whether the server in `dataDir` refuses to end recovery before its target: PostgreSQL 13 and later. */
function stopsShortOfTarget(dataDir: string): boolean {
  try {
    const major = Number(readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim());
    return Number.isInteger(major) && major >= 13;
  } catch {
    return false;
  }
}

async function heldBy(repo: Repository, walFileName: string): Promise<boolean> {
  for (const id of await repo.wal.clusterIds()) {
    if ((await repo.wal.find(id, walFileName)) !== undefined) return true;
  }
  return false;
}
