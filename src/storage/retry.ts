// Retries of object-store requests: exponential backoff with full jitter, within a time budget (io-timeout).

/** First backoff ceiling; doubled after each failed attempt up to MAX_DELAY_MS. */
const BASE_DELAY_MS = 100;
const MAX_DELAY_MS = 10_000;
/**
 * Attempts still made once the budget is spent (pgBackRest's rule): an attempt that used the whole budget by
 * itself (a connection that stalled until io-timeout) is tried again rather than failing the command at once.
 */
const ATTEMPTS_AFTER_BUDGET = 2;
const LATE_DELAY_MS = 1_000;

export interface RetryPolicy {
  /** How long (ms) after the first attempt another attempt may still start: io-timeout. */
  readonly budgetMs: number;
  /** Whether a failure may pass if tried again (throttling, 5xx, a timeout, a reset connection). */
  readonly isTemporary: (error: unknown) => boolean;
  /** Stops waiting and retrying: rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Runs `attempt` until it succeeds, fails permanently, or the budget is spent and ATTEMPTS_AFTER_BUDGET more
 * attempts failed too; then rejects with the last error.
 * Full jitter (a random delay between 0 and the ceiling) keeps many clients throttled together from retrying in
 * step. `attempt` gets the attempt number (0 first), so a caller can resume where a failed attempt stopped.
 */
export async function withRetry<T>(attempt: (count: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  const budget = new RetryBudget(policy.budgetMs, policy.signal);
  for (let count = 0; ; count++) {
    policy.signal?.throwIfAborted();
    try {
      return await attempt(count);
    } catch (error) {
      if (policy.signal?.aborted === true) throw policy.signal.reason;
      if (!policy.isTemporary(error)) throw error;
      await budget.wait(error);
    }
  }
}

/**
 * The retry rule for attempts that are not one call: a download whose body is cut again and again. `wait` after
 * each temporary failure sleeps the backoff, or rethrows the failure once the budget (counted from its creation,
 * or from the first failure after `progress`) and ATTEMPTS_AFTER_BUDGET more attempts are spent. A resumed read
 * (object-store.ts) creates it at its first failure: the budget counts from the failure, not from the last byte,
 * because a body that stalled has already waited io-timeout by itself.
 */
export class RetryBudget {
  readonly #budgetMs: number;
  readonly #signal: AbortSignal | undefined;
  /** When the budget started: at construction, or at the first failure after `progress`. */
  #started = Date.now();
  #restart = false;
  #count = 0;
  #late = 0;

  constructor(budgetMs: number, signal?: AbortSignal) {
    this.#budgetMs = budgetMs;
    this.#signal = signal;
  }

  /** Something was achieved since the last failure: the budget starts again at the next one. */
  progress(): void {
    this.#restart = true;
    this.#count = 0;
    this.#late = 0;
  }

  async wait(error: unknown): Promise<void> {
    if (this.#restart) {
      this.#started = Date.now();
      this.#restart = false;
    }
    let delay = Math.random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.#count++);
    if (Date.now() - this.#started + delay >= this.#budgetMs) {
      if (++this.#late > ATTEMPTS_AFTER_BUDGET) throw error;
      // Past the budget, a short wait only: the command has waited long enough.
      delay = Math.min(delay, LATE_DELAY_MS);
    }
    await sleep(delay, this.#signal);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', aborted);
      resolve();
    }
    function aborted(): void {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener('abort', aborted, { once: true });
  });
}
