// At most one event per interval, by an injected clock (monotonic by default): the progress log line and record.

export class Throttle {
  readonly #intervalMs: number;
  readonly #now: () => number;
  #last: number;

  /** The first event is due one interval after construction (a command that ends sooner reports nothing). */
  constructor(intervalMs: number, now: () => number = () => performance.now()) {
    this.#intervalMs = intervalMs;
    this.#now = now;
    this.#last = now();
  }

  /** Whether an interval has passed since the last event; if so, now counts as the last event. */
  due(): boolean {
    const now = this.#now();
    if (now - this.#last < this.#intervalMs) return false;
    this.#last = now;
    return true;
  }
}
