// What a test expects to fail: the PgStashError a call throws or a promise rejects with (anything else fails).
import { PgStashError } from '../../src/common/errors.js';

export function errorOf(action: () => unknown): PgStashError {
  try {
    action();
  } catch (error) {
    if (error instanceof PgStashError) return error;
    throw error;
  }
  throw new Error('expected a PgStashError');
}

export async function rejectionOf(promise: Promise<unknown>): Promise<PgStashError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PgStashError) return error;
    throw error;
  }
  throw new Error('expected a rejection with a PgStashError');
}

/** Whatever a promise rejects with (a PgStashError or not): for the tests that expect a plain Error too. */
export async function anyRejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}
