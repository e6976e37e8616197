// Tests for withRetry: temporary failures are retried with growing delays within the budget, permanent ones fail
// at once, the last error comes out when the budget is spent, and an abort stops the waiting.
import { describe, expect, it } from 'vitest';

import { RetryBudget, withRetry } from '../../../src/storage/retry.js';

class Temporary extends Error {}
const isTemporary = (error: unknown): boolean => error instanceof Temporary;

describe('withRetry', () => {
  it('retries temporary failures until the attempt succeeds', async () => {
    const attempts: number[] = [];
    const result = await withRetry(
      async (count) => {
        attempts.push(count);
        if (count < 3) throw new Temporary(`attempt ${count}`);
        return 'done';
      },
      { budgetMs: 10_000, isTemporary },
    );
    expect(result).toBe('done');
    expect(attempts).toEqual([0, 1, 2, 3]);
  });

  it('fails at once on a permanent error', async () => {
    let attempts = 0;
    const permanent = new Error('access denied');
    await expect(
      withRetry(
        async () => {
          attempts++;
          throw permanent;
        },
        { budgetMs: 10_000, isTemporary },
      ),
    ).rejects.toBe(permanent);
    expect(attempts).toBe(1);
  });

  it('gives up with the last error once the budget is spent', async () => {
    let attempts = 0;
    const started = Date.now();
    const error = await withRetry(
      async () => {
        attempts++;
        throw new Temporary(`attempt ${attempts}`);
      },
      { budgetMs: 1_500, isTemporary },
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Temporary);
    expect((error as Error).message).toBe(`attempt ${attempts}`);
    expect(attempts).toBeGreaterThan(1);
    // Past the budget, two more attempts at most 1 s apart, not the grown backoff.
    expect(Date.now() - started).toBeLessThan(1_500 + 2 * 1_000 + 1_000);
  });

  it('tries twice more once the budget is spent: an attempt that stalled through it is retried', async () => {
    const attempts: number[] = [];
    const result = await withRetry(
      async (count) => {
        attempts.push(count);
        if (count === 0) {
          await new Promise((resolve) => setTimeout(resolve, 300));
          throw new Temporary('timed out');
        }
        return 'done';
      },
      { budgetMs: 200, isTemporary },
    );
    expect(result).toBe('done');
    expect(attempts).toEqual([0, 1]);

    let failed = 0;
    const error = await withRetry(
      async () => {
        failed++;
        await new Promise((resolve) => setTimeout(resolve, 300));
        throw new Temporary(`attempt ${failed}`);
      },
      { budgetMs: 200, isTemporary },
    ).catch((caught: unknown) => caught);
    expect((error as Error).message).toBe('attempt 3');
  });

  it('stops waiting and rejects with the reason when aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled');
    let attempts = 0;
    const pending = withRetry(
      async () => {
        attempts++;
        if (attempts === 3) controller.abort(reason);
        throw new Temporary('busy');
      },
      { budgetMs: 60_000, isTemporary, signal: controller.signal },
    );
    await expect(pending).rejects.toBe(reason);
    expect(attempts).toBe(3);
  });

  it('RetryBudget: failures without progress end once the budget is spent; progress starts it again', async () => {
    const failure = new Temporary('cut short');
    const budget = new RetryBudget(300);
    const started = Date.now();
    let waits = 0;
    const spent = await (async () => {
      for (;;) {
        await budget.wait(failure);
        waits++;
        if (waits === 3) budget.progress();
      }
    })().catch((caught: unknown) => caught);
    expect(spent).toBe(failure);
    expect(waits).toBeGreaterThan(3);
    expect(Date.now() - started).toBeLessThan(300 * 2 + 2 * 1_000 + 1_000);
  });
});
