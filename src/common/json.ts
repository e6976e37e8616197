// JSON output that keeps 64-bit integers (bigint) exact, as bare numbers rather than strings or rounded doubles.

const MARK = '\u0000bigint:';

export function stringifyWithBigInt(value: unknown, indent?: number): string {
  const text = JSON.stringify(
    value,
    (_key, v: unknown) => (typeof v === 'bigint' ? `${MARK}${v}` : v),
    indent,
  );
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}
