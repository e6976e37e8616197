// Expands the option table into concrete option names (repo-path -> repo1-path .. repo4-path) and looks them up.
import { COMMANDS, INDEX_GROUPS, OPTIONS } from './definition.js';
import type { CommandDef, CommandName, DefaultValue, OptionDef } from './definition.js';

/** One concrete option: an unindexed table entry, or one index of an indexed entry. */
export interface ConcreteOption {
  /** The name users write: `stanza`, `repo2-path`, `pg1-port`. */
  readonly name: string;
  readonly def: OptionDef;
  /** 1-based index for indexed options. */
  readonly index: number | undefined;
}

/** The concrete name of a table entry at an index: `indexedName(repo-path, 2)` is `repo2-path`. */
export function indexedName(def: OptionDef, index: number | undefined): string {
  if (def.indexed === undefined || index === undefined) return def.name;
  const prefix = INDEX_GROUPS[def.indexed].prefix;
  return `${prefix}${index}${def.name.slice(prefix.length)}`;
}

function expand(): ConcreteOption[] {
  const result: ConcreteOption[] = [];
  for (const def of OPTIONS) {
    if (def.indexed === undefined) {
      result.push({ name: def.name, def, index: undefined });
      continue;
    }
    for (let index = 1; index <= INDEX_GROUPS[def.indexed].max; index++) {
      result.push({ name: indexedName(def, index), def, index });
    }
  }
  return result;
}

/** Every concrete option in table order (all indexes of an entry together). */
export const CONCRETE_OPTIONS: readonly ConcreteOption[] = expand();

const BY_NAME = new Map(CONCRETE_OPTIONS.map((option) => [option.name, option]));
const DEF_BY_NAME = new Map(OPTIONS.map((def) => [def.name, def]));
const COMMAND_BY_NAME = new Map(COMMANDS.map((command) => [command.name, command]));

/** A concrete option by its exact name. */
export function findOption(name: string): ConcreteOption | undefined {
  return BY_NAME.get(name);
}

/** A table entry by its (unindexed) name. */
export function findDefinition(name: string): OptionDef | undefined {
  return DEF_BY_NAME.get(name);
}

/** The option an option refers to (depend, byValueOf): the one with the same index. */
export function relatedOption(option: ConcreteOption, baseName: string): ConcreteOption | undefined {
  const def = DEF_BY_NAME.get(baseName);
  return def === undefined
    ? undefined
    : BY_NAME.get(indexedName(def, def.indexed === undefined ? undefined : option.index));
}

export function findCommand(name: string): CommandDef | undefined {
  return COMMAND_BY_NAME.get(name as CommandName);
}

export function validFor(def: OptionDef, command: CommandName): boolean {
  return def.commands.includes(command);
}

/** Whether the option does something for the command today (see OptionDef.effectiveFor). */
export function hasEffect(def: OptionDef, command: CommandName): boolean {
  return def.effectiveFor === undefined || def.effectiveFor.includes(command);
}

/** The allowed values of an enum for a command. */
export function allowedFor(def: OptionDef, command: CommandName | undefined): readonly string[] | undefined {
  return (command === undefined ? undefined : def.commandAllowed?.[command]) ?? def.allowed;
}

/** The table default for a command (before byValueOf), or undefined when there is none. */
export function defaultFor(def: OptionDef, command: CommandName | undefined): DefaultValue | undefined {
  return (command === undefined ? undefined : def.commandDefault?.[command]) ?? def.default;
}

/** The environment variable of an option: PGSTASH_REPO1_PATH. */
export function envName(name: string): string {
  return `PGSTASH_${name.toUpperCase().replaceAll('-', '_')}`;
}
