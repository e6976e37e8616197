// How much of a file one thread has written, in shared memory, for another thread that reads it back meanwhile.

/** Nothing written yet: the writer has not created the file. */
const NOT_STARTED = -1n;
/** The writer gave up: what is in the file means nothing. */
const FAILED = -2n;
/** A waiting reader looks again this often even without a notification (a writer on a dead thread never sends one). */
const RECHECK_MS = 100;

/**
 * One counter in a SharedArrayBuffer: the writer reports each length only after the write returned, so a reader
 * never reads a byte below it that is still being copied in. Post `buffer` to the other thread (shared, not
 * copied) and wrap it there with `attach`.
 */
export class WriteProgress {
  readonly buffer: SharedArrayBuffer;
  readonly #cell: BigInt64Array;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#cell = new BigInt64Array(buffer, 0, 1);
  }

  static create(): WriteProgress {
    const progress = new WriteProgress(new SharedArrayBuffer(8));
    Atomics.store(progress.#cell, 0, NOT_STARTED);
    return progress;
  }

  static attach(buffer: SharedArrayBuffer): WriteProgress {
    return new WriteProgress(buffer);
  }

  /** Writer: the file exists and holds `bytes` complete bytes. */
  report(bytes: number): void {
    Atomics.store(this.#cell, 0, BigInt(bytes));
    Atomics.notify(this.#cell, 0);
  }

  /** Writer: it failed; a reader stops waiting. */
  fail(): void {
    Atomics.store(this.#cell, 0, FAILED);
    Atomics.notify(this.#cell, 0);
  }

  /**
   * Reader: the bytes written, once that is more than `known` (-1 before anything: resolves once the file exists),
   * or undefined once the writer failed or `stop` resolved (the writer's job ended without a report).
   */
  async beyond(known: number, stop: Promise<unknown>): Promise<number | undefined> {
    let stopped = false;
    void stop.then(
      () => (stopped = true),
      () => (stopped = true),
    );
    for (;;) {
      const value = Atomics.load(this.#cell, 0);
      if (value === FAILED) return undefined;
      if (value > BigInt(known)) return Number(value);
      if (stopped) return undefined;
      const wait = Atomics.waitAsync(this.#cell, 0, value, RECHECK_MS);
      if (wait.async) await Promise.race([wait.value, stop.then(undefined, () => undefined)]);
    }
  }
}
