// WAL positions (LSNs) as bigint: parsing and printing in PostgreSQL's 'XXXXXXXX/XXXXXXXX' text form.
import { fail } from '../common/errors.js';

/** The largest LSN (2^64 - 1). */
export const LSN_MAX = 0xffffffffffffffffn;

/** InvalidXLogRecPtr: PostgreSQL uses 0/0 for "no position". */
export const LSN_INVALID = 0n;

// Like pg_lsn's input function: 1 to 8 hex digits on each side of the slash, either case.
const LSN_PATTERN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** The LSN '16/B374D848' as a bigint; anything else fails with optionInvalidValue (32) naming the value. */
export function parseLsn(text: string): bigint {
  const match = LSN_PATTERN.exec(text);
  if (match === null) {
    fail('optionInvalidValue', `invalid LSN '${text}'`, {
      hint: "an LSN is two hexadecimal numbers of up to 8 digits separated by '/', e.g. '16/B374D848'",
    });
  }
  return (BigInt(`0x${match[1] ?? ''}`) << 32n) | BigInt(`0x${match[2] ?? ''}`);
}

/** Whether `text` is an LSN in PostgreSQL's text form. */
export function isLsn(text: string): boolean {
  return LSN_PATTERN.test(text);
}

/** The LSN in PostgreSQL's form: upper-case hex, no leading zeros ('%X/%X'), e.g. 16/B374D848 or 0/0. */
export function formatLsn(lsn: bigint): string {
  if (lsn < 0n || lsn > LSN_MAX) fail('assert', `LSN '${lsn}' is outside 0 to 2^64-1`);
  const high = (lsn >> 32n).toString(16).toUpperCase();
  const low = (lsn & 0xffffffffn).toString(16).toUpperCase();
  return `${high}/${low}`;
}
