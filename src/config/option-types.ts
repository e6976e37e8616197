// The type of each option's value and of the indexed groups (repoN, pgN), derived from the option table.
import { INDEX_GROUPS } from './definition.js';
import type { CommandName, IndexGroup, OptionDef, OptionTable } from './definition.js';

type Entry = OptionTable[number];
type EntryNamed<Name> = Extract<Entry, { readonly name: Name }>;
type UnindexedEntry = Exclude<Entry, { readonly indexed: IndexGroup }>;
type GroupEntry<G extends IndexGroup> = Extract<Entry, { readonly indexed: G }>;
type Prefix<G extends IndexGroup> = (typeof INDEX_GROUPS)[G]['prefix'];

/** 1 .. N as string literals. */
type IndexUpTo<N extends number, Done extends unknown[] = []> = Done['length'] extends N
  ? never
  : `${[...Done, unknown]['length'] & number}` | IndexUpTo<N, [...Done, unknown]>;

/** `repo-cipher-type` at index 2 is `repo2-cipher-type`. */
type ConcreteNames<E> = E extends { readonly indexed: infer G extends IndexGroup; readonly name: infer Name }
  ? Name extends `${Prefix<G>}-${infer Rest}`
    ? `${Prefix<G>}${IndexUpTo<(typeof INDEX_GROUPS)[G]['max']>}-${Rest}`
    : never
  : never;

/** Every option name users write: `stanza`, `repo2-path`, `pg1-port`. */
export type OptionName = UnindexedEntry['name'] | ConcreteNames<Entry>;

/** The table entry of a concrete name: `repo2-path` -> the `repo-path` entry. */
type EntryOf<N extends OptionName> = N extends UnindexedEntry['name'] ? EntryNamed<N> : IndexedEntryOf<N>;
type IndexedEntryOf<N, E = Entry> = E extends Entry ? (N extends ConcreteNames<E> ? E : never) : never;

/** Commands an option is valid for. */
export type CommandsOf<N extends OptionName> = EntryOf<N>['commands'][number];

type ElementOf<T> = T extends readonly (infer V)[] ? V : never;

/** An enum's values: the command's own list where the entry has one (type: backup or restore), else `allowed`. */
type EnumValue<E, C extends CommandName> = E extends { readonly commandAllowed: infer CA }
  ? ElementOf<CA[C & keyof CA]> | (C extends keyof CA ? never : AllowedOf<E>)
  : AllowedOf<E>;
type AllowedOf<E> = E extends { readonly allowed: infer A } ? ElementOf<A> : never;

type ValueOfType<E, C extends CommandName> = E extends { readonly type: infer T }
  ? T extends 'boolean'
    ? boolean
    : T extends 'integer' | 'time' | 'size'
      ? number
      : T extends 'enum'
        ? EnumValue<E, C>
        : T extends 'list'
          ? readonly string[]
          : T extends 'hash'
            ? Readonly<Record<string, string>>
            : string
  : never;

/**
 * Whether reading the option always gives a value: lists and hashes (empty when unset), and options with a default
 * for every command `C` that are not conditional (`depend`). Mirrored at run time by alwaysHasValue.
 */
type AlwaysSet<E, C extends CommandName> = E extends { readonly type: 'list' | 'hash' }
  ? true
  : E extends { readonly depend: unknown }
    ? false
    : E extends { readonly default: unknown }
      ? true
      : E extends { readonly commandDefault: infer CD; readonly commands: readonly (infer V)[] }
        ? [Exclude<C & V, keyof CD>] extends [never]
          ? true
          : false
        : false;

/** The value of a table entry read by command C. */
type EntryValue<E extends Entry, C extends CommandName> =
  AlwaysSet<E, C> extends true ? ValueOfType<E, C> : ValueOfType<E, C> | undefined;

/** The value of option N read by command C (by default: by any command it is valid for). */
export type OptionValue<N extends OptionName, C extends CommandName = CommandsOf<N>> = EntryValue<
  EntryOf<N>,
  C
>;

/** `socket-path` -> `socketPath`. */
type Camel<S extends string> = S extends `${infer Head}-${infer Tail}`
  ? `${Head}${Capitalize<Camel<Tail>>}`
  : S;
type FieldOf<E, G extends IndexGroup> = E extends { readonly name: `${Prefix<G>}-${infer Rest}` }
  ? Camel<Rest>
  : never;
type MayBeUnset<E extends Entry> = undefined extends EntryValue<E, E['commands'][number]> ? true : false;

/**
 * The options of one index of a group as a record, one field per table entry (`repo-cipher-type` ->
 * `cipherType`); a field that may have no value is optional.
 */
export type GroupOptions<G extends IndexGroup> = { readonly index: number } & {
  readonly [E in GroupEntry<G> as MayBeUnset<E> extends true ? never : FieldOf<E, G>]: EntryValue<
    E,
    E['commands'][number]
  >;
} & {
  readonly [E in GroupEntry<G> as MayBeUnset<E> extends true ? FieldOf<E, G> : never]?: Exclude<
    EntryValue<E, E['commands'][number]>,
    undefined
  >;
};

/**
 * A configured repository: repoN-path is set. `ioTimeout` is the global io-timeout (seconds), carried in the
 * record of an object-store repository so that its driver, opened from the record alone, has it.
 */
export type RepoOptions = GroupOptions<'repo'> & { readonly path: string; readonly ioTimeout?: number };
/** A PostgreSQL cluster (pgN). */
export type PgOptions = GroupOptions<'pg'>;

/** The field of an indexed entry in its group's record: `repo-cipher-type` -> `cipherType`. */
export function fieldName(def: OptionDef): string {
  const prefix = def.indexed === undefined ? '' : `${INDEX_GROUPS[def.indexed].prefix}-`;
  return def.name.slice(prefix.length).replace(/-([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** Run-time mirror of AlwaysSet: reading the option for `command` always gives a value. */
export function alwaysHasValue(def: OptionDef, command: CommandName): boolean {
  if (def.type === 'list' || def.type === 'hash') return true;
  if (def.depend !== undefined) return false;
  return def.default !== undefined || def.commandDefault?.[command] !== undefined;
}
