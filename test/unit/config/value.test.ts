// Tests option value parsing for every option type: accepted forms, rejected forms, error kinds and messages.
import { errorOf } from '../../harness/errors.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../src/common/errors.js';
import type { ErrorKind } from '../../../src/common/errors.js';
import { formatSize, parseBoolean, parseSize, parseValue } from '../../../src/config/value.js';
import type { ValueRules } from '../../../src/config/value.js';

function expectError(fn: () => unknown, kind: ErrorKind, message: string): void {
  const error = errorOf(fn);
  expect(error.kind).toBe(kind);
  expect(error.code).toBe(ERROR_CODES[kind].code);
  expect(error.message).toBe(message);
}

const rules = (type: ValueRules['type'], extra: Partial<ValueRules> = {}): ValueRules => ({
  name: 'opt',
  type,
  ...extra,
});

describe('parseValue', () => {
  it('parses booleans as y/n and true/false', () => {
    expect(parseValue(rules('boolean'), ['y'])).toBe(true);
    expect(parseValue(rules('boolean'), ['n'])).toBe(false);
    expect(parseValue(rules('boolean'), ['true'])).toBe(true);
    expect(parseValue(rules('boolean'), ['FALSE'])).toBe(false);
    expectError(
      () => parseValue(rules('boolean'), ['maybe']),
      'optionInvalidValue',
      "'maybe' is not valid for 'opt' option: expected y or n",
    );
    expect(parseBoolean('1')).toBeUndefined();
  });

  it('parses integers within their range', () => {
    const process = rules('integer', { name: 'process-max', range: { min: 1, max: 999 } });
    expect(parseValue(process, ['8'])).toBe(8);
    expect(parseValue(process, ['+8'])).toBe(8);
    expectError(
      () => parseValue(process, ['abc']),
      'optionInvalidValue',
      "'abc' is not valid for 'process-max' option: expected an integer",
    );
    expectError(
      () => parseValue(process, ['1.5']),
      'optionInvalidValue',
      "'1.5' is not valid for 'process-max' option: expected an integer",
    );
    expectError(
      () => parseValue(process, ['1000']),
      'optionInvalidValue',
      "'1000' is out of range for 'process-max' option: allowed 1 to 999",
    );
    expectError(
      () => parseValue(process, ['0']),
      'optionInvalidValue',
      "'0' is out of range for 'process-max' option: allowed 1 to 999",
    );
    expect(parseValue(rules('integer', { range: { min: -7, max: 22 } }), ['-7'])).toBe(-7);
    expectError(
      () => parseValue(rules('integer'), ['99999999999999999999']),
      'optionInvalidValue',
      "'99999999999999999999' is not valid for 'opt' option: expected an integer",
    );
  });

  it('parses times in seconds with decimals', () => {
    const timeout = rules('time', { name: 'archive-timeout', range: { min: 0.1, max: 86400 } });
    expect(parseValue(timeout, ['60'])).toBe(60);
    expect(parseValue(timeout, ['0.5'])).toBe(0.5);
    expect(parseValue(timeout, ['.25'])).toBe(0.25);
    expectError(
      () => parseValue(timeout, ['10s']),
      'optionInvalidValue',
      "'10s' is not valid for 'archive-timeout' option: expected seconds, such as 60 or 0.5",
    );
    expectError(
      () => parseValue(timeout, ['-1']),
      'optionInvalidValue',
      "'-1' is not valid for 'archive-timeout' option: expected seconds, such as 60 or 0.5",
    );
    expectError(
      () => parseValue(timeout, ['0.05']),
      'optionInvalidValue',
      "'0.05' is out of range for 'archive-timeout' option: allowed 0.1 to 86400",
    );
  });

  it('parses sizes with base-1024 units and reports ranges in units', () => {
    const buffer = rules('size', { name: 'buffer-size', range: { min: 16384, max: 16 * 1024 * 1024 } });
    expect(parseValue(buffer, ['1MiB'])).toBe(1024 * 1024);
    expect(parseValue(buffer, ['64KB'])).toBe(65536);
    expect(parseValue(buffer, ['64kb'])).toBe(65536);
    expect(parseValue(buffer, ['2m'])).toBe(2 * 1024 * 1024);
    expect(parseValue(buffer, ['1.5MiB'])).toBe(1.5 * 1024 * 1024);
    expect(parseValue(buffer, ['65536'])).toBe(65536);
    expect(parseValue(buffer, ['65536B'])).toBe(65536);
    expectError(
      () => parseValue(buffer, ['1XB']),
      'optionInvalidValue',
      "'1XB' is not valid for 'buffer-size' option: expected bytes, or a size with a unit such as 64KiB or 1MiB",
    );
    expectError(
      () => parseValue(buffer, ['8KiB']),
      'optionInvalidValue',
      "'8KiB' is out of range for 'buffer-size' option: allowed 16KiB to 16MiB",
    );
    expect(parseSize('1.5')).toBeUndefined();
    expect(parseSize('1GB')).toBe(1024 ** 3);
    expect(parseSize('1tib')).toBe(1024 ** 4);
  });

  it('formats sizes with the largest exact unit, and parsing the format gives the size back', () => {
    expect(formatSize(1024 * 1024)).toBe('1MiB');
    expect(formatSize(16384)).toBe('16KiB');
    expect(formatSize(1000)).toBe('1000');
    expect(formatSize(0)).toBe('0');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 50 }), (bytes) => {
        expect(parseSize(formatSize(bytes))).toBe(bytes);
      }),
    );
  });

  it('checks enums against their allowed values', () => {
    const compress = rules('enum', { name: 'compress-type', allowed: ['none', 'gz', 'lz4', 'zst'] });
    expect(parseValue(compress, ['gz'])).toBe('gz');
    expectError(
      () => parseValue(compress, ['GZ']),
      'optionInvalidValue',
      "'GZ' is not allowed for 'compress-type' option: allowed values are none, gz, lz4, zst",
    );
  });

  it('requires absolute paths and drops trailing and doubled slashes', () => {
    const path = rules('path', { name: 'repo1-path' });
    expect(parseValue(path, ['/var/lib/pgstash/'])).toBe('/var/lib/pgstash');
    expect(parseValue(path, ['/var//lib'])).toBe('/var/lib');
    expect(parseValue(path, ['/'])).toBe('/');
    expectError(
      () => parseValue(path, ['var/lib']),
      'optionInvalidValue',
      "'var/lib' is not valid for 'repo1-path' option: must be an absolute path",
    );
  });

  it('checks string patterns', () => {
    const stanza = rules('string', {
      name: 'stanza',
      pattern: { regex: /^[a-z]+$/, description: 'lower case letters' },
    });
    expect(parseValue(stanza, ['main'])).toBe('main');
    expectError(
      () => parseValue(stanza, ['a/b']),
      'optionInvalidValue',
      "'a/b' is not valid for 'stanza' option: expected lower case letters",
    );
    expect(parseValue(rules('string'), ['any thing = at all'])).toBe('any thing = at all');
  });

  it('collects lists and hashes from repeated values', () => {
    expect(parseValue(rules('list'), ['a', 'b', 'a'])).toEqual(['a', 'b', 'a']);
    const hash = parseValue(rules('hash', { name: 'recovery-option' }), [
      'a=1',
      'conninfo=host=x port=5',
      '__proto__=x',
    ]);
    expect(hash).toEqual({ a: '1', conninfo: 'host=x port=5', ['__proto__']: 'x' });
    expect(Object.getPrototypeOf(hash)).toBe(Object.prototype);
    expectError(
      () => parseValue(rules('hash', { name: 'recovery-option' }), ['novalue']),
      'optionInvalidValue',
      "'novalue' is not valid for 'recovery-option' option: expected key=value",
    );
    expectError(
      () => parseValue(rules('hash', { name: 'recovery-option' }), ['=x']),
      'optionInvalidValue',
      "'=x' is not valid for 'recovery-option' option: expected key=value",
    );
    const map = rules('hash', { name: 'tablespace-map', hashValue: 'path' });
    expect(parseValue(map, ['ts1=/srv/ts1/'])).toEqual({ ts1: '/srv/ts1' });
    expectError(
      () => parseValue(map, ['ts1=srv']),
      'optionInvalidValue',
      "'srv' is not valid for 'tablespace-map' option: must be an absolute path",
    );
  });

  it('refuses empty values and repeated single values', () => {
    expectError(
      () => parseValue(rules('string'), ['']),
      'optionInvalidValue',
      "'' is not valid for 'opt' option: must not be empty",
    );
    expectError(
      () => parseValue(rules('list'), ['a', '']),
      'optionInvalidValue',
      "'' is not valid for 'opt' option: must not be empty",
    );
    expectError(
      () => parseValue(rules('integer'), ['1', '2']),
      'optionInvalid',
      "option 'opt' cannot be set multiple times",
    );
  });
});
