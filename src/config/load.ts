// Resolves the configuration of one run: command line > environment > config file sections > defaults.
import { PgStashError } from '../common/errors.js';
import { parseCommandLine } from './argv.js';
import type { CommandLineOption, ParsedCommandLine } from './argv.js';
import { checkConfigKeys, readConfigFile } from './config-file.js';
import type { ConfigFile } from './config-file.js';
import { INDEX_GROUPS } from './definition.js';
import { noEffectWarnings } from './no-effect.js';
import type { CommandDef, CommandName, IndexGroup, OptionDef } from './definition.js';
import { alwaysHasValue, fieldName } from './option-types.js';
import type { CommandsOf, OptionName, OptionValue, PgOptions, RepoOptions } from './option-types.js';
import {
  CONCRETE_OPTIONS,
  envName,
  findCommand,
  findDefinition,
  findOption,
  hasEffect,
  relatedOption,
  validFor,
} from './options.js';
import type { ConcreteOption } from './options.js';
import { Resolver, joinOr, readEnvironment } from './resolve.js';
import type { RawValue, Resolved } from './resolve.js';

export type OptionSource = 'command-line' | 'environment' | 'config' | 'default';

export type { OptionName, OptionValue, PgOptions, RepoOptions } from './option-types.js';

export interface LoadedConfig {
  /** e.g. 'archive-push'; 'help' and 'version' too. */
  readonly command: CommandName;
  /** Positional command arguments. */
  readonly args: readonly string[];
  /** For `pgstash help archive-push` and `pgstash archive-push --help`. */
  readonly helpTopic?: string | undefined;
  /** Problems that do not stop the command, for the caller to log. */
  readonly warnings: readonly string[];
  /** Set by any source other than the default. */
  has(name: OptionName): boolean;
  /** Where the value came from; undefined when the option has no value. */
  source(name: OptionName): OptionSource | undefined;
  /**
   * The value of an option, typed by the option table (option-types.ts): a number for integer, time (seconds) and
   * size (bytes), an enum's allowed values, never undefined when the table gives a default (lists and hashes read
   * as empty when unset). Options not valid for the command, or whose `depend` is not met, read as unset. With
   * `command` (which must be the one running), an enum has that command's values: `get('type', 'restore')`.
   */
  get<N extends OptionName, C extends CommandsOf<N> = CommandsOf<N>>(name: N, command?: C): OptionValue<N, C>;
  /** get, but throws optionRequired (37) naming the option when it has no value. */
  require<N extends OptionName>(name: N): Exclude<OptionValue<N>, undefined>;
  /** repoN groups with repoN-path set, ascending, one field per repo-* table entry. */
  readonly repos: readonly RepoOptions[];
  /** pg1, one field per pg-* table entry (only for commands that take pg options). */
  readonly pg: PgOptions;
  /**
   * Options to pass on to a child pgstash running `command` (default archive-get, for restore_command): the config
   * path and the options valid for that command that were set on the command line or in the environment (the child
   * reads the same config file). Secure options are never included, nor the stanza: the caller names it, e.g.
   * `[...passThrough(), '--stanza=main', 'archive-get']`. Not shell-quoted. `keep` leaves out more options.
   */
  passThrough(command?: CommandName, keep?: (option: OptionDef) => boolean): string[];
  /**
   * The value an option has from the config file and the environment alone, as if not given on the command line
   * (undefined when neither sets it): drill tells the stanza's own pg1-path from one given for the drill.
   */
  configured(name: OptionName): unknown;
}

const DEFAULT_CONFIG = '/etc/pgstash/pgstash.conf';

/** Where a missing option can be set, for hints. */
function whereToSet(option: ConcreteOption, stanza: string | undefined): string {
  const places: string[] = [];
  if (option.def.secure !== true) places.push(`--${option.name}`);
  places.push(`${envName(option.name)} in the environment`);
  if (option.def.section !== 'command-line') {
    const section = option.def.section === 'stanza' ? (stanza ?? '<stanza>') : 'global';
    places.push(`${option.name} in the [${section}] section of the config file`);
  }
  return `set ${joinOr(places)}`;
}

/** The command to run, its arguments and help topic, from what the command line gives. */
function selectCommand(line: ParsedCommandLine): { command: CommandDef; args: readonly string[] } {
  let name = line.command;
  let args = line.args;
  if (line.help) {
    args = name === undefined || name === 'help' ? args : [name];
    name = 'help';
  } else if (line.version) {
    name = 'version';
    args = [];
  }
  if (name === undefined) {
    throw new PgStashError('commandRequired', 'no command given', {
      hint: "run 'pgstash help' to list the commands",
    });
  }
  const command = findCommand(name);
  if (command === undefined) {
    throw new PgStashError('commandInvalid', `invalid command '${name}'`, {
      hint: "run 'pgstash help' to list the commands",
    });
  }
  return { command, args };
}

function checkArguments(command: CommandDef, args: readonly string[]): void {
  const usage = `usage: pgstash [options] ${command.name}${command.args
    .map((arg) => (arg.optional === true ? ` [${arg.name}]` : ` <${arg.name}>`))
    .join('')}`;
  const missing = command.args.slice(args.length).filter((arg) => arg.optional !== true);
  if (missing.length > 0) {
    throw new PgStashError(
      'paramRequired',
      `command '${command.name}' requires ${missing.map((arg) => `<${arg.name}>`).join(' ')}`,
      { hint: usage },
    );
  }
  const extra = args[command.args.length];
  if (extra !== undefined) {
    throw new PgStashError('paramInvalid', `extra argument '${extra}' for command '${command.name}'`, {
      hint: usage,
    });
  }
  if (command.name !== 'help') return;
  const [topic, optionName] = args;
  const helped = topic === undefined ? undefined : findCommand(topic);
  if (topic !== undefined && helped === undefined) {
    throw new PgStashError('commandInvalid', `invalid command '${topic}'`, {
      hint: "run 'pgstash help' to list the commands",
    });
  }
  if (helped !== undefined && optionName !== undefined) {
    const def = findOption(optionName)?.def ?? findDefinition(optionName);
    if (def === undefined || !validFor(def, helped.name)) {
      throw new PgStashError('optionInvalid', `invalid option '${optionName}' for command '${helped.name}'`, {
        hint: `run 'pgstash help ${helped.name}' to list its options`,
      });
    }
  }
}

/** The option of a name the types allow; a name from outside the types (a cast) that is no option asserts. */
function optionOrAssert(name: string): ConcreteOption {
  const option = findOption(name);
  if (option === undefined) throw new PgStashError('assert', `option '${name}' does not exist`);
  return option;
}

/** The resolved configuration; options not valid for the command read as unset. */
class Config implements LoadedConfig {
  readonly command: CommandName;
  readonly args: readonly string[];
  readonly helpTopic: string | undefined;
  readonly warnings: readonly string[];
  readonly repos: readonly RepoOptions[];
  #pgOptions: PgOptions | undefined;
  readonly #values: ReadonlyMap<string, Resolved>;
  readonly #configNegated: boolean;
  readonly #withoutCommandLine: (name: string) => unknown;

  constructor(
    command: CommandName,
    state: {
      args: readonly string[];
      values: ReadonlyMap<string, Resolved>;
      warnings: readonly string[];
      configNegated: boolean;
      withoutCommandLine?: (name: string) => unknown;
    },
  ) {
    this.command = command;
    this.args = Object.freeze([...state.args]);
    this.helpTopic = command === 'help' ? state.args[0] : undefined;
    this.warnings = Object.freeze([...state.warnings]);
    this.#values = state.values;
    this.#configNegated = state.configNegated;
    this.#withoutCommandLine = state.withoutCommandLine ?? (() => undefined);
    this.repos = Object.freeze(this.#repos());
  }

  get pg(): PgOptions {
    const path = findOption('pg1-path');
    if (path === undefined || !validFor(path.def, this.command)) {
      throw new PgStashError('assert', `command '${this.command}' takes no pg options`);
    }
    this.#pgOptions ??= Object.freeze(this.#group('pg', 1) as PgOptions);
    return this.#pgOptions;
  }

  has(name: OptionName): boolean {
    optionOrAssert(name);
    const source = this.#values.get(name)?.source;
    return source !== undefined && source !== 'default';
  }

  source(name: OptionName): OptionSource | undefined {
    optionOrAssert(name);
    return this.#values.get(name)?.source;
  }

  get<N extends OptionName, C extends CommandsOf<N> = CommandsOf<N>>(
    name: N,
    command?: C,
  ): OptionValue<N, C> {
    const { def } = optionOrAssert(name);
    if (command !== undefined && command !== this.command) {
      throw new PgStashError('assert', `option '${name}' read for command '${command}' in '${this.command}'`);
    }
    const value = this.#values.get(name)?.value;
    if (value !== undefined) return value as OptionValue<N, C>;
    if (def.type === 'list') return [] as readonly string[] as OptionValue<N, C>;
    if (def.type === 'hash') return {} as OptionValue<N, C>;
    // Where the types promise a value (a default for every command the read covers), none means the option was read
    // in a command it is not valid for: a programming error, not an unset option.
    const covered = command === undefined ? def.commands : [command];
    if (covered.every((each) => alwaysHasValue(def, each))) {
      throw new PgStashError('assert', `option '${name}' is not valid for command '${this.command}'`);
    }
    return undefined as OptionValue<N, C>;
  }

  require<N extends OptionName>(name: N): Exclude<OptionValue<N>, undefined> {
    const value = this.get(name);
    if (value !== undefined) return value as Exclude<OptionValue<N>, undefined>;
    const option = optionOrAssert(name);
    throw new PgStashError('optionRequired', `${name} option required`, {
      hint: whereToSet(option, this.#values.get('stanza')?.value as string | undefined),
    });
  }

  configured(name: OptionName): unknown {
    optionOrAssert(name);
    return this.#withoutCommandLine(name);
  }

  passThrough(
    command: CommandName = 'archive-get',
    keep: (option: OptionDef) => boolean = () => true,
  ): string[] {
    const result: string[] = [];
    if (this.#configNegated) result.push('--no-config');
    for (const option of CONCRETE_OPTIONS) {
      const resolved = this.#values.get(option.name);
      if (resolved === undefined || !validFor(option.def, command)) continue;
      if (!hasEffect(option.def, command) || !keep(option.def)) continue;
      if (option.def.secure === true || option.name === 'stanza') continue;
      if (resolved.reset) {
        result.push(`--reset-${option.name}`);
        continue;
      }
      if (resolved.source !== 'command-line' && resolved.source !== 'environment') continue;
      const { value } = resolved;
      if (typeof value === 'boolean') result.push(value ? `--${option.name}` : `--no-${option.name}`);
      else if (Array.isArray(value))
        for (const item of value as string[]) result.push(`--${option.name}=${item}`);
      else if (typeof value === 'object') {
        for (const [key, item] of Object.entries(value)) result.push(`--${option.name}=${key}=${item}`);
      } else result.push(`--${option.name}=${value}`);
    }
    return result;
  }

  /** Configured repositories: the repoN groups whose path is set. */
  #repos(): RepoOptions[] {
    const repos: RepoOptions[] = [];
    for (let index = 1; index <= INDEX_GROUPS.repo.max; index++) {
      const group = this.#group('repo', index);
      if (group.path === undefined) continue;
      // An object store's driver (also on a worker thread, which gets only this record) needs io-timeout.
      if (group.type !== 'posix') group.ioTimeout = this.#values.get('io-timeout')?.value;
      repos.push(Object.freeze(group) as RepoOptions);
    }
    return repos;
  }

  /** One index of a group as a record: a field per table entry of the group that has a value (option-types.ts). */
  #group(group: IndexGroup, index: number): Record<string, unknown> {
    const record: Record<string, unknown> = { index };
    for (const option of CONCRETE_OPTIONS) {
      if (option.def.indexed !== group || option.index !== index) continue;
      const value = this.#values.get(option.name)?.value;
      if (value !== undefined) record[fieldName(option.def)] = value;
    }
    return record;
  }
}

/** Required options, checked after every value is known: stanza first, then repositories, then the rest. */
function checkRequired(command: CommandDef, values: ReadonlyMap<string, Resolved>): void {
  const stanza = values.get('stanza')?.value as string | undefined;
  const missing = (option: ConcreteOption, reason?: string): never => {
    const where = whereToSet(option, stanza);
    throw new PgStashError('optionRequired', `${option.name} option required`, {
      hint: reason === undefined ? where : `${reason}: ${where}`,
    });
  };
  const requiredHere = (option: ConcreteOption) =>
    validFor(option.def, command.name) && option.def.required?.includes(command.name) === true;

  const stanzaOption = findOption('stanza');
  if (stanzaOption !== undefined && requiredHere(stanzaOption) && stanza === undefined) missing(stanzaOption);

  const configured = new Set<number>();
  if (command.repo) {
    for (let index = 1; index <= INDEX_GROUPS.repo.max; index++) {
      const group = CONCRETE_OPTIONS.filter(
        (option) => option.def.indexed === 'repo' && option.index === index,
      );
      const path = group.find((option) => option.def.name === 'repo-path');
      if (path !== undefined && values.has(path.name)) {
        configured.add(index);
        continue;
      }
      const set = group.filter((option) => (values.get(option.name)?.source ?? 'default') !== 'default');
      if (path !== undefined && set.length > 0) {
        missing(
          path,
          `${set.map((option) => option.name).join(', ')} ${set.length === 1 ? 'is' : 'are'} set`,
        );
      }
    }
    const first = findOption('repo1-path');
    if (configured.size === 0 && first !== undefined) missing(first, `'${command.name}' needs a repository`);
    const selected = values.get('repo');
    if (selected !== undefined && !configured.has(selected.value as number)) {
      throw new PgStashError(
        'optionInvalidValue',
        `'${String(selected.value)}' is not valid for 'repo' option: repo${String(selected.value)}-path is not set`,
        { hint: `configured repositories: ${[...configured].map((index) => `repo${index}`).join(', ')}` },
      );
    }
  }

  for (const option of CONCRETE_OPTIONS) {
    if (option.name === 'stanza' || !requiredHere(option) || values.has(option.name)) continue;
    if (option.def.indexed === 'repo' && (option.index === undefined || !configured.has(option.index)))
      continue;
    const depend = option.def.depend;
    if (depend === undefined) {
      missing(option);
      continue;
    }
    const related = relatedOption(option, depend.option);
    const value = related === undefined ? undefined : values.get(related.name)?.value;
    if (value !== undefined && depend.values.includes(String(value))) {
      missing(option, `${related?.name ?? depend.option} is '${String(value)}'`);
    }
  }
}

/**
 * Loads the configuration for one run from argv (without the node and script paths) and the environment.
 * Synchronous and light: archive-push runs it for every WAL file. help and version read only the command line.
 */
export function loadConfig(
  argv: readonly string[],
  environment: Readonly<Record<string, string | undefined>>,
): LoadedConfig {
  const line = parseCommandLine(argv);
  const { command, args } = selectCommand(line);
  checkArguments(command, args);

  // Options on the command line must be valid for the command; help and version ignore the ones they do not take
  // so that `pgstash backup --stanza=main --help` works.
  const cliOptions = new Map<string, CommandLineOption>();
  for (const [name, entry] of line.options) {
    if (validFor(entry.option.def, command.name)) cliOptions.set(name, entry);
    else if (command.readsConfig) {
      throw new PgStashError('optionInvalid', `option '${name}' not valid for command '${command.name}'`, {
        hint: `run 'pgstash help ${command.name}' to list its options`,
      });
    }
  }
  const cli: ParsedCommandLine = { ...line, options: cliOptions };

  const env = command.readsConfig ? readEnvironment(environment) : new Map<string, RawValue>();
  const configNegated = cliOptions.get('config')?.negated === true;
  let file: ConfigFile | undefined;
  const warnings: string[] = [];
  if (command.readsConfig && !configNegated) {
    const configOption = findOption('config');
    const resolver = new Resolver(command.name, { line: cli, env, file: undefined });
    const given = configOption === undefined ? undefined : resolver.resolveOne(configOption);
    const path = (given?.value as string | undefined) ?? DEFAULT_CONFIG;
    file = readConfigFile(path, { required: given !== undefined && given.source !== 'default' });
    if (file !== undefined) warnings.push(...file.warnings, ...checkConfigKeys(file));
  }

  let values: Map<string, Resolved>;
  try {
    values = new Resolver(command.name, { line: cli, env, file }).resolveAll();
    if (command.readsConfig) {
      checkRequired(command, values);
      // A command not yet available fails as a whole (67): its options need no warning.
      if (command.notYetAvailable !== true) warnings.push(...noEffectWarnings(command.name, values));
    }
  } catch (error) {
    if (typeof error === 'object' && error !== null) warningsBeforeErrors.set(error, warnings);
    throw error;
  }
  const withoutCommandLine = (name: string): unknown => {
    const option = findOption(name);
    if (option === undefined) return undefined;
    // The rest of the command line stays: --stanza chooses the config file's section, --config the file.
    const options = new Map([...cli.options].filter(([key]) => key !== name));
    const line: ParsedCommandLine = { ...cli, options };
    // resolveAll: the stanza's section is read only once --stanza is resolved.
    const resolved = new Resolver(command.name, { line, env, file }).resolveAll().get(option.name);
    return resolved?.source === 'default' ? undefined : resolved?.value;
  };
  return new Config(command.name, { args, values, warnings, configNegated, withoutCommandLine });
}

/** The config file's warnings gathered before a configuration error (see configWarningsBefore). */
const warningsBeforeErrors = new WeakMap<object, readonly string[]>();

/**
 * The config file's warnings when loadConfig failed after reading it: they may be the cause (pg1-path in [global]
 * is ignored there, so pg1-path is missing), and like pgBackRest they are shown before the error.
 */
export function configWarningsBefore(error: unknown): readonly string[] {
  return typeof error === 'object' && error !== null ? (warningsBeforeErrors.get(error) ?? []) : [];
}
