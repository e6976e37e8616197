// Syncs files in the background as they are finished, a few at once on libuv's pool; drain() waits for them all.
import { wrapError } from '../common/errors.js';
import { syncPath } from './file-io.js';

/**
 * Why: a restore must make every file durable before it writes pg_control. Syncing them all at the end left the
 * disk idle while files were written and the CPU idle while they were flushed; syncing each one as soon as it is
 * written overlaps the two, as pgBackRest does with its fsync per file.
 */
export class SyncBehind {
  readonly #concurrency: number;
  readonly #waiting: string[] = [];
  #running = 0;
  #failure: { error: unknown } | undefined;
  /** Callers of drain() waiting for the queue to empty. */
  readonly #drained: (() => void)[] = [];

  constructor(concurrency: number) {
    this.#concurrency = concurrency;
  }

  /** Queues `path` (a file just written and closed) for fsync. */
  add(path: string): void {
    this.#waiting.push(path);
    this.#pump();
  }

  /** Resolves once every queued path is synced; rejects with the first failure (a fileWrite error naming it). */
  async drain(): Promise<void> {
    if (this.#running > 0 || this.#waiting.length > 0) {
      await new Promise<void>((resolve) => {
        this.#drained.push(resolve);
      });
    }
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure !== undefined) throw failure.error;
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#waiting.length > 0) {
      const path = this.#waiting.shift() as string;
      this.#running++;
      syncPath(path, false)
        .catch((error: unknown) => {
          this.#failure ??= { error: wrapError('fileWrite', `unable to sync '${path}'`, error) };
        })
        .finally(() => {
          this.#running--;
          this.#pump();
          if (this.#running === 0 && this.#waiting.length === 0) {
            for (const resolve of this.#drained.splice(0)) resolve();
          }
        });
    }
  }
}
