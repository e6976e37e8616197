// Parses option values given as text (command line, environment, config file) into typed values, per option type.
import { PgStashError } from '../common/errors.js';
import type { NumericRange, OptionType } from './definition.js';

/** A parsed option value: string (string, enum, path), number (integer, time, size), boolean, list or hash. */
export type OptionValue = string | number | boolean | readonly string[] | Readonly<Record<string, string>>;

/** What a value is checked against; `name` is the concrete option name used in messages. */
export interface ValueRules {
  readonly name: string;
  readonly type: OptionType;
  readonly allowed?: readonly string[] | undefined;
  readonly range?: NumericRange | undefined;
  /** Appended to the range in messages, e.g. ` when compress-type is 'gz'`. */
  readonly rangeNote?: string | undefined;
  readonly pattern?: { readonly regex: RegExp; readonly description: string } | undefined;
  readonly hashValue?: 'path' | undefined;
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 0, b: 0, k: 1, m: 2, g: 3, t: 4, p: 5 };
const SIZE_FORMAT = /^(\d+(?:\.\d+)?)\s*(?:([kmgtp])(?:i?b)?|(b))?$/i;

/** Booleans as pgBackRest writes them in files and the environment (y/n), plus true/false. */
export function parseBoolean(text: string): boolean | undefined {
  switch (text.toLowerCase()) {
    case 'y':
    case 'true':
      return true;
    case 'n':
    case 'false':
      return false;
    default:
      return undefined;
  }
}

/** A size in bytes: plain bytes, or with a base-1024 unit as pgBackRest reads them (64KB = 64KiB = 65536). */
export function parseSize(text: string): number | undefined {
  const match = SIZE_FORMAT.exec(text.trim());
  if (match === null) return undefined;
  const exponent = SIZE_UNITS[(match[2] ?? match[3] ?? '').toLowerCase()] ?? 0;
  const bytes = Number(match[1]) * 1024 ** exponent;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A size with the largest base-1024 unit that divides it exactly: 1048576 -> `1MiB`. */
export function formatSize(bytes: number): string {
  const units = ['', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value !== 0 && value % 1024 === 0 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value}${units[unit] ?? ''}`;
}

/** A number of seconds, decimals allowed (no sign, no exponent). */
function parseTime(text: string): number | undefined {
  return /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : undefined;
}

function parseInteger(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

function invalid(rules: ValueRules, text: string, expected: string): never {
  throw new PgStashError(
    'optionInvalidValue',
    `'${text}' is not valid for '${rules.name}' option: ${expected}`,
  );
}

function formatBound(rules: ValueRules, value: number): string {
  return rules.type === 'size' ? formatSize(value) : String(value);
}

function checkRange(rules: ValueRules, text: string, value: number): void {
  const range = rules.range;
  if (range === undefined || (value >= range.min && value <= range.max)) return;
  const bounds = `${formatBound(rules, range.min)} to ${formatBound(rules, range.max)}`;
  throw new PgStashError(
    'optionInvalidValue',
    `'${text}' is out of range for '${rules.name}' option: allowed ${bounds}${rules.rangeNote ?? ''}`,
  );
}

/** An absolute path without trailing or doubled slashes. */
function parsePath(rules: ValueRules, text: string): string {
  if (!text.startsWith('/')) invalid(rules, text, 'must be an absolute path');
  const path = text.replace(/\/{2,}/g, '/');
  return path.length > 1 ? path.replace(/\/$/, '') : path;
}

function parseScalar(rules: ValueRules, text: string): string | number | boolean {
  switch (rules.type) {
    case 'boolean':
      return parseBoolean(text) ?? invalid(rules, text, 'expected y or n');
    case 'integer': {
      const value = parseInteger(text) ?? invalid(rules, text, 'expected an integer');
      checkRange(rules, text, value);
      return value;
    }
    case 'time': {
      const value = parseTime(text) ?? invalid(rules, text, 'expected seconds, such as 60 or 0.5');
      checkRange(rules, text, value);
      return value;
    }
    case 'size': {
      const value =
        parseSize(text) ??
        invalid(rules, text, 'expected bytes, or a size with a unit such as 64KiB or 1MiB');
      checkRange(rules, text, value);
      return value;
    }
    case 'enum': {
      const allowed = rules.allowed ?? [];
      if (!allowed.includes(text)) {
        throw new PgStashError(
          'optionInvalidValue',
          `'${text}' is not allowed for '${rules.name}' option: allowed values are ${allowed.join(', ')}`,
        );
      }
      return text;
    }
    case 'path':
      return parsePath(rules, text);
    case 'string':
    case 'list':
    case 'hash':
      if (rules.pattern !== undefined && !rules.pattern.regex.test(text)) {
        invalid(rules, text, `expected ${rules.pattern.description}`);
      }
      return text;
  }
}

function parseHash(rules: ValueRules, texts: readonly string[]): Readonly<Record<string, string>> {
  const entries: [string, string][] = [];
  for (const text of texts) {
    const equals = text.indexOf('=');
    if (equals <= 0) invalid(rules, text, 'expected key=value');
    const key = text.slice(0, equals);
    const value = text.slice(equals + 1);
    if (value === '') invalid(rules, text, 'expected key=value');
    entries.push([key, rules.hashValue === 'path' ? parsePath(rules, value) : value]);
  }
  // fromEntries defines own properties, so a key such as __proto__ stays an ordinary key.
  return Object.freeze(Object.fromEntries(entries));
}

/**
 * Parses the text(s) given for one option. List and hash options take every text; other types take exactly one.
 * Throws optionInvalidValue (32) naming the option and the value, or optionInvalid (31) for repeated scalars.
 */
export function parseValue(rules: ValueRules, texts: readonly string[]): OptionValue {
  for (const text of texts) {
    if (text === '') {
      throw new PgStashError(
        'optionInvalidValue',
        `'' is not valid for '${rules.name}' option: must not be empty`,
      );
    }
  }
  if (rules.type === 'hash') return parseHash(rules, texts);
  if (rules.type === 'list') return Object.freeze(texts.map((text) => parseScalar(rules, text) as string));
  const [text, ...rest] = texts;
  if (text === undefined) {
    throw new PgStashError(
      'optionInvalidValue',
      `'' is not valid for '${rules.name}' option: must not be empty`,
    );
  }
  if (rest.length > 0) {
    throw new PgStashError('optionInvalid', `option '${rules.name}' cannot be set multiple times`);
  }
  return parseScalar(rules, text);
}
