// Tests for LSN parsing and printing: PostgreSQL's text form, round trips, and refused input.
import { errorOf } from '../../harness/errors.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { isPgStashError } from '../../../src/common/errors.js';
import { LSN_MAX, formatLsn, isLsn, parseLsn } from '../../../src/postgres/lsn.js';

describe('parseLsn', () => {
  it('reads both halves as hex', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('0/1000028')).toBe(0x1000028n);
    expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe(LSN_MAX);
  });

  it('accepts lower case and leading zeros like pg_lsn does', () => {
    expect(parseLsn('16/b374d848')).toBe(0x16b374d848n);
    expect(parseLsn('00000016/0000B374')).toBe(0x160000b374n);
  });

  it.each([
    '',
    '16',
    '16/',
    '/B374D848',
    '123456789/0',
    '0/123456789',
    'G/0',
    '1/2/3',
    ' 1/2',
    '1/2 ',
    '-1/0',
    '0x1/0',
    '1\\2',
  ])('refuses %j with optionInvalidValue naming the value', (text) => {
    const error = errorOf(() => parseLsn(text));
    expect(isPgStashError(error, 'optionInvalidValue')).toBe(true);
    expect((error as Error).message).toBe(`invalid LSN '${text}'`);
    expect(isLsn(text)).toBe(false);
  });
});

describe('formatLsn', () => {
  it('prints upper-case hex without leading zeros, like %X/%X', () => {
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(formatLsn(0n)).toBe('0/0');
    expect(formatLsn(0x100000000n)).toBe('1/0');
    expect(formatLsn(0xan)).toBe('0/A');
    expect(formatLsn(LSN_MAX)).toBe('FFFFFFFF/FFFFFFFF');
  });

  it('refuses values outside 64 bits', () => {
    expect(
      isPgStashError(
        errorOf(() => formatLsn(-1n)),
        'assert',
      ),
    ).toBe(true);
    expect(
      isPgStashError(
        errorOf(() => formatLsn(LSN_MAX + 1n)),
        'assert',
      ),
    ).toBe(true);
  });

  it('round-trips every 64-bit value', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: LSN_MAX }), (lsn) => {
        const text = formatLsn(lsn);
        expect(text).toMatch(/^(0|[1-9A-F][0-9A-F]{0,7})\/(0|[1-9A-F][0-9A-F]{0,7})$/);
        expect(parseLsn(text)).toBe(lsn);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips any accepted text to its canonical form', () => {
    const half = fc.stringMatching(/^[0-9a-fA-F]{1,8}$/);
    fc.assert(
      fc.property(half, half, (high, low) => {
        const lsn = parseLsn(`${high}/${low}`);
        expect(formatLsn(lsn)).toBe(
          `${BigInt(`0x${high}`).toString(16).toUpperCase()}/${BigInt(`0x${low}`).toString(16).toUpperCase()}`,
        );
      }),
    );
  });
});
