// Tests for JsonObject: each getter checks one field's type and names the file and the field's path when wrong.
import { describe, expect, it } from 'vitest';
import { JsonObject } from '../../../src/common/json-fields.js';

const source = { kind: 'thing file', where: '/repo/thing' };

function messageOf(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    return String((error as Error).message);
  }
  throw new Error('no error');
}

describe('JsonObject', () => {
  const root = JsonObject.of(
    {
      name: 'a',
      count: 3,
      on: true,
      kind: 'lz4',
      list: [{ n: 1 }, { n: -1 }],
      pages: [1, 'x'],
      nested: { deep: 1.5 },
    },
    source,
  );

  it('returns fields of the right type', () => {
    expect(root.str('name')).toBe('a');
    expect(root.int('count')).toBe(3);
    expect(root.bool('on')).toBe(true);
    expect(root.oneOf('kind', ['gz', 'lz4'] as const)).toBe('lz4');
    expect(root.optStr('missing')).toBeUndefined();
    expect(root.optInt('missing')).toBeUndefined();
    expect(root.objects('list').map((item) => item.int('n', -5))).toEqual([1, -1]);
    expect(root.keys()).toContain('nested');
  });

  it.each<[string, () => unknown, string]>([
    ['not an object', () => JsonObject.of([], source), 'content must be an object (found [])'],
    ['a missing string', () => root.str('missing'), 'missing must be a string (missing)'],
    ['a pattern', () => root.str('name', /^b$/), 'name must match /^b$/ (found "a")'],
    [
      'a number below its minimum',
      () => root.objects('list')[1]?.int('n'),
      'list[1].n must be a whole number of at least 0 (found -1)',
    ],
    [
      'a fraction',
      () => root.obj('nested').int('deep'),
      'nested.deep must be a whole number of at least 0 (found 1.5)',
    ],
    [
      'a value not in the list',
      () => root.oneOf('kind', ['gz'] as const),
      'kind must be one of gz (found "lz4")',
    ],
    [
      'an array element',
      () => root.optIntArray('pages'),
      'pages[1] must be a whole number of at least 0 (found "x")',
    ],
    ['not a boolean', () => root.bool('count'), 'count must be true or false (found 3)'],
  ])('refuses %s, naming the file and the field', (_name, read, expected) => {
    expect(messageOf(read)).toBe(`invalid thing file '/repo/thing': ${expected}`);
  });
});
