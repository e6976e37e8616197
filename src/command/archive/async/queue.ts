// Queue accounting of asynchronous archiving: which ready WAL to push or drop, which segments to prefetch.
import { nextSegment } from '../../../postgres/wal-name.js';

/** A segment waiting in pg_wal to be archived: its name and size in bytes. */
export interface ReadyWal {
  readonly name: string;
  readonly size: number;
}

/**
 * Splits the WAL waiting to be archived into what to push and what to drop. As pgBackRest: when the waiting WAL
 * adds up to more than `queueMax` bytes, all of it is dropped (acknowledged without being stored) so that
 * PostgreSQL can remove it instead of filling its disk; an unset queueMax never drops.
 */
export function pushQueue(
  ready: readonly ReadyWal[],
  queueMax: number | undefined,
): { push: readonly ReadyWal[]; drop: readonly ReadyWal[]; waitingBytes: number } {
  const waitingBytes = ready.reduce((total, wal) => total + wal.size, 0);
  if (queueMax !== undefined && waitingBytes > queueMax) return { push: [], drop: ready, waitingBytes };
  return { push: ready, drop: [], waitingBytes };
}

/**
 * The segments archive-get prefetches, starting with `first` (which restore_command asked for): as many as fit in
 * `queueMax` bytes, at least that one. They follow on the same timeline.
 */
export function getQueue(first: string, walSegmentSize: number, queueMax: number): string[] {
  const count = Math.max(1, Math.floor(queueMax / walSegmentSize));
  const queue = [first];
  while (queue.length < count) queue.push(nextSegment(queue[queue.length - 1] ?? first, walSegmentSize));
  return queue;
}
