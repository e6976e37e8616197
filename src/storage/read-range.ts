// The byte range of a read (Driver.openRead and read), validated the same way by every driver.
import { fail } from '../common/errors.js';

/** From `offset` (default 0), at most `limit` bytes (default: to the end); negative or fractional values fail. */
export function checkedRange(options: { offset?: number; limit?: number } | undefined): {
  offset: number;
  limit: number | undefined;
} {
  for (const name of ['offset', 'limit'] as const) {
    const value = options?.[name];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0))
      fail('paramInvalid', `read ${name} '${value}' must be a non-negative integer`);
  }
  return { offset: options?.offset ?? 0, limit: options?.limit };
}
