// Resolves the value of each option from the command line, environment, config file sections and defaults.
import { PgStashError } from '../common/errors.js';
import type { CommandLineOption, ParsedCommandLine } from './argv.js';
import type { ConfigFile } from './config-file.js';
import type { CommandName, DefaultValue } from './definition.js';
import type { OptionSource } from './load.js';
import {
  CONCRETE_OPTIONS,
  allowedFor,
  defaultFor,
  envName,
  findOption,
  relatedOption,
  validFor,
} from './options.js';
import type { ConcreteOption } from './options.js';
import { parseValue } from './value.js';
import type { OptionValue, ValueRules } from './value.js';

const ENV_PREFIX = 'PGSTASH_';

/** The text given for an option by one source, with where it came from for error hints. */
export interface RawValue {
  readonly values: readonly string[];
  readonly source: OptionSource;
  /** `on the command line`, `in environment variable PGSTASH_X`, `in config file '/x' section [main]`. */
  readonly origin: string;
  /**
   * Set for this command alone: on the command line or in a command's section ([global:backup], [main:backup]).
   * The environment, [global] and [<stanza>] apply to every command.
   */
  readonly forCommand: boolean;
}

export interface Resolved {
  readonly value: OptionValue;
  readonly source: OptionSource;
  /** Reset to the default on the command line (`--reset-x`). */
  readonly reset: boolean;
  /** Where a value that is not the default was set (see RawValue). */
  readonly origin?: string;
  readonly forCommand?: boolean;
}

/** `a, b or c`. */
export function joinOr(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1) ?? ''}`;
}

function quoteList(values: readonly string[]): string {
  return joinOr(values.map((value) => `'${value}'`));
}

/** Adds where a bad value came from to a value error (value errors carry no hint of their own). */
function rethrowWithOrigin(error: unknown, origin: string): never {
  if (error instanceof PgStashError && error.hint === undefined) {
    throw new PgStashError(error.kind, error.message, { hint: `the value was set ${origin}` });
  }
  throw error;
}

/** PGSTASH_<OPTION> variables; unknown names are ignored (the environment is shared with other programs). */
export function readEnvironment(env: Readonly<Record<string, string | undefined>>): Map<string, RawValue> {
  const result = new Map<string, RawValue>();
  for (const [key, text] of Object.entries(env)) {
    if (!key.startsWith(ENV_PREFIX) || text === undefined) continue;
    const option = findOption(key.slice(ENV_PREFIX.length).toLowerCase().replaceAll('_', '-'));
    if (option === undefined || envName(option.name) !== key) continue;
    // As in pgBackRest, repeatable options list their values separated by ':' in one variable.
    const repeatable = option.def.type === 'list' || option.def.type === 'hash';
    result.set(option.name, {
      values: repeatable ? text.split(':') : [text],
      source: 'environment',
      origin: `in environment variable ${key}`,
      forCommand: false,
    });
  }
  return result;
}

/** Builds the values of every option valid for the command, in table order (dependencies come first). */
export class Resolver {
  readonly #command: CommandName;
  readonly #line: ParsedCommandLine;
  readonly #env: ReadonlyMap<string, RawValue>;
  readonly #file: ConfigFile | undefined;
  readonly #values = new Map<string, Resolved>();
  #stanza: string | undefined;

  constructor(
    command: CommandName,
    sources: { line: ParsedCommandLine; env: ReadonlyMap<string, RawValue>; file: ConfigFile | undefined },
  ) {
    this.#command = command;
    this.#line = sources.line;
    this.#env = sources.env;
    this.#file = sources.file;
  }

  /** One option that depends on no other (config itself, before the file is read). */
  resolveOne(option: ConcreteOption): Resolved | undefined {
    this.#resolve(option);
    return this.#values.get(option.name);
  }

  resolveAll(): Map<string, Resolved> {
    for (const option of CONCRETE_OPTIONS) {
      if (!validFor(option.def, this.#command)) continue;
      this.#resolve(option);
      if (option.name === 'stanza') this.#stanza = this.#values.get('stanza')?.value as string | undefined;
    }
    return this.#values;
  }

  /** Config file sections to read, highest precedence first. */
  #sections(option: ConcreteOption): string[] {
    if (option.def.section === 'command-line') return [];
    const names: string[] = [];
    if (this.#stanza !== undefined) names.push(`${this.#stanza}:${this.#command}`, this.#stanza);
    if (option.def.section === 'global') names.push(`global:${this.#command}`, 'global');
    return names;
  }

  #raw(option: ConcreteOption, cli: CommandLineOption | undefined): RawValue | undefined {
    if (cli !== undefined && cli.values.length > 0) {
      return { values: cli.values, source: 'command-line', origin: 'on the command line', forCommand: true };
    }
    if (cli?.reset === true) return undefined;
    const env = this.#env.get(option.name);
    if (env !== undefined) return env;
    for (const section of this.#sections(option)) {
      const values = this.#file?.sections.get(section)?.get(option.name);
      if (values !== undefined) {
        return {
          values,
          source: 'config',
          origin: `in config file '${this.#file?.path ?? ''}' section [${section}]`,
          forCommand: section.includes(':'),
        };
      }
    }
    return undefined;
  }

  #related(option: ConcreteOption, baseName: string): string | undefined {
    const related = relatedOption(option, baseName);
    const value = related === undefined ? undefined : this.#values.get(related.name)?.value;
    return value === undefined ? undefined : String(value);
  }

  #rules(option: ConcreteOption): ValueRules {
    const { def } = option;
    const by = def.byValueOf;
    const selector = by === undefined ? undefined : this.#related(option, by.option);
    const range = by === undefined ? def.range : selector === undefined ? undefined : by.range[selector];
    return {
      name: option.name,
      type: def.type,
      allowed: allowedFor(def, this.#command),
      range,
      rangeNote:
        by === undefined || range === undefined ? undefined : ` when ${by.option} is '${selector ?? ''}'`,
      pattern: def.pattern,
      hashValue: def.hashValue,
    };
  }

  #default(option: ConcreteOption, rules: ValueRules): OptionValue | undefined {
    const { def } = option;
    let value: DefaultValue | undefined = defaultFor(def, this.#command);
    if (value === undefined && def.byValueOf !== undefined) {
      const selector = this.#related(option, def.byValueOf.option);
      value = selector === undefined ? undefined : def.byValueOf.default[selector];
    }
    return typeof value === 'string' ? parseValue(rules, [value]) : value;
  }

  #dependMet(option: ConcreteOption): boolean {
    const depend = option.def.depend;
    if (depend === undefined) return true;
    const value = this.#related(option, depend.option);
    return value !== undefined && depend.values.includes(value);
  }

  #resolve(option: ConcreteOption): void {
    const cli = this.#line.options.get(option.name);
    const raw = this.#raw(option, cli);
    if (!this.#dependMet(option)) {
      // Like pgBackRest: an error on the command line, silently ignored from the environment or config file.
      const depend = option.def.depend;
      if (raw?.source === 'command-line' && depend !== undefined) {
        const related = relatedOption(option, depend.option)?.name ?? depend.option;
        throw new PgStashError(
          'optionInvalid',
          `option '${option.name}' is only valid when option '${related}' is ${quoteList(depend.values)}`,
          { hint: `set --${related} to one of those values, or leave --${option.name} out` },
        );
      }
      return;
    }
    const rules = this.#rules(option);
    if (raw !== undefined) {
      try {
        this.#values.set(option.name, {
          value: parseValue(rules, raw.values),
          source: raw.source,
          reset: false,
          origin: raw.origin,
          forCommand: raw.forCommand,
        });
      } catch (error) {
        rethrowWithOrigin(error, raw.origin);
      }
      return;
    }
    const value = this.#default(option, rules);
    if (value !== undefined) {
      this.#values.set(option.name, { value, source: 'default', reset: cli?.reset === true });
    } else if (cli?.reset === true) {
      this.#values.delete(option.name);
    }
  }
}
