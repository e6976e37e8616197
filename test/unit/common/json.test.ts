// Exact 64-bit integers in JSON output.
import { describe, expect, it } from 'vitest';
import { stringifyWithBigInt } from '../../../src/common/json.js';

describe('stringifyWithBigInt', () => {
  it('writes bigints as exact bare numbers', () => {
    const text = stringifyWithBigInt({ id: 18446744073709551615n, name: 'x', list: [1n] });
    expect(text).toBe('{"id":18446744073709551615,"name":"x","list":[1]}');
  });

  it('leaves strings that look like the marker alone', () => {
    expect(stringifyWithBigInt({ text: 'bigint:12' })).toBe('{"text":"bigint:12"}');
  });
});
