// Reads parsed JSON field by field with explicit type checks: a wrong field is a format error naming file and field.
import { PgStashError } from './errors.js';

/** What a bad field is reported against: the kind of file ('backup manifest') and where it was read. */
export interface JsonSource {
  readonly kind: string;
  readonly where: string;
}

/** A format error (29) for `field` of the file: `invalid backup manifest '<where>': files[3].size ...`. */
export function jsonFieldError(source: JsonSource, field: string, problem: string): PgStashError {
  return new PgStashError('format', `invalid ${source.kind} '${source.where}': ${field} ${problem}`);
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value);
  return `found ${text.length > 40 ? `${text.slice(0, 40)}...` : text}`;
}

/** One JSON object of a file, at `path` ('' for the root, 'files[3]', 'files[3].stored'). */
export class JsonObject {
  readonly #fields: ReadonlyMap<string, unknown>;

  private constructor(
    readonly source: JsonSource,
    readonly path: string,
    fields: ReadonlyMap<string, unknown>,
  ) {
    this.#fields = fields;
  }

  /** `value` as an object (not null, not an array), else a format error naming `path`. */
  static of(value: unknown, source: JsonSource, path = ''): JsonObject {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw jsonFieldError(source, path === '' ? 'content' : path, `must be an object (${describe(value)})`);
    return new JsonObject(source, path, new Map(Object.entries(value)));
  }

  /** The names this object holds. */
  keys(): string[] {
    return [...this.#fields.keys()];
  }

  /** The full path of one field, for messages. */
  fieldPath(name: string): string {
    return this.path === '' ? name : `${this.path}.${name}`;
  }

  /** A format error for field `name` of this object. */
  fail(name: string, problem: string): PgStashError {
    return jsonFieldError(this.source, this.fieldPath(name), problem);
  }

  raw(name: string): unknown {
    return this.#fields.get(name);
  }

  str(name: string, pattern?: RegExp): string {
    const value = this.raw(name);
    if (typeof value !== 'string') throw this.fail(name, `must be a string (${describe(value)})`);
    if (pattern !== undefined && !pattern.test(value))
      throw this.fail(name, `must match ${String(pattern)} (${describe(value)})`);
    return value;
  }

  optStr(name: string, pattern?: RegExp): string | undefined {
    return this.raw(name) === undefined ? undefined : this.str(name, pattern);
  }

  /** A whole number from `min` (0 by default) up to Number.MAX_SAFE_INTEGER. */
  int(name: string, min = 0): number {
    const value = this.raw(name);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
      throw this.fail(name, `must be a whole number of at least ${min} (${describe(value)})`);
    return value;
  }

  optInt(name: string, min = 0): number | undefined {
    return this.raw(name) === undefined ? undefined : this.int(name, min);
  }

  bool(name: string): boolean {
    const value = this.raw(name);
    if (typeof value !== 'boolean') throw this.fail(name, `must be true or false (${describe(value)})`);
    return value;
  }

  oneOf<T extends string>(name: string, values: readonly T[]): T {
    const value = this.raw(name);
    const found = values.find((candidate) => candidate === value);
    if (found === undefined)
      throw this.fail(name, `must be one of ${values.join(', ')} (${describe(value)})`);
    return found;
  }

  obj(name: string): JsonObject {
    return JsonObject.of(this.raw(name), this.source, this.fieldPath(name));
  }

  /** The elements of array field `name`, each with its path ('files[3]'). */
  array(name: string): { readonly value: unknown; readonly path: string }[] {
    const value = this.raw(name);
    if (!Array.isArray(value)) throw this.fail(name, `must be an array (${describe(value)})`);
    return value.map((element: unknown, index) => ({
      value: element,
      path: `${this.fieldPath(name)}[${index}]`,
    }));
  }

  objects(name: string): JsonObject[] {
    return this.array(name).map(({ value, path }) => JsonObject.of(value, this.source, path));
  }

  optIntArray(name: string): number[] | undefined {
    if (this.raw(name) === undefined) return undefined;
    return this.array(name).map(({ value, path }) => {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
        throw jsonFieldError(this.source, path, `must be a whole number of at least 0 (${describe(value)})`);
      return value;
    });
  }
}
