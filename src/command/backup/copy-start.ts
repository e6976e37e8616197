// The second a backup starts on (its manifest's timestampStart): no file is read before it, and a file modified
// before it is one the next diff or incr may trust by its size and mtime.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How long after the start second reading may begin: the kernel stamps mtimes from a clock updated once per tick
 * (up to 10 ms behind the real time at HZ=100), so a write just after the start second could otherwise still be
 * stamped with the second before it.
 */
export const START_MARGIN_MS = 20;

/**
 * Bytes of files modified in the current second that the next diff or incr may copy again, rather than this backup
 * wait up to a second for the next one: what a checkpoint rewrites every time on a quiet cluster
 * (pg_logical/replorigin_checkpoint, a few pg_xact pages).
 */
export const RECENT_BYTES_MAX = 1024 * 1024;

/**
 * The start of a backup whose label names `labelled` (label.ts), decided once its files are listed (`files`,
 * pg_control aside: it is always copied) and before any is read, at `now` (ms).
 *
 * Why a whole second, and why files modified in it matter: the manifest records mtimes in whole seconds, and the
 * next diff or incr keeps a file whose size and mtime are unchanged only when that mtime is before this backup's
 * start second (prior-reuse.ts; resume.ts the same for an interrupted backup's files). A write after the start
 * (hence after the file was read) gets an mtime at or after it, so it is never missed. A file modified in the
 * current second, though, may have changed after it was read without its mtime changing: it is not trusted next
 * time, and is copied again. So when the files modified in the current second hold more than RECENT_BYTES_MAX
 * (a table the checkpoint of pg_backup_start just wrote), the start is the next second, waited for as pgBackRest
 * waits after its checkpoint; otherwise it is the current second, and nothing is waited for. Never before
 * `labelled`: the partial manifest already records it as the start (resume trusts only what was modified before).
 */
export function copyStart(
  labelled: Date,
  now: number,
  files: readonly { readonly mtime: number; readonly size: number }[],
): Date {
  const current = Math.floor(now / 1000);
  let recent = 0;
  for (const file of files) if (file.mtime >= current) recent += file.size;
  const start = recent > RECENT_BYTES_MAX ? current + 1 : current;
  return new Date(Math.max(Math.floor(labelled.getTime() / 1000), start) * 1000);
}

/** Resolves once `started` and START_MARGIN_MS have passed (at once if they have). */
export async function untilStarted(started: Date): Promise<void> {
  const target = started.getTime() + START_MARGIN_MS;
  // A timer may fire a millisecond early: then it waits again.
  while (Date.now() < target) await sleep(target - Date.now());
}
