// Turns option table entries into the words help and docs/reference.md show: names, types, defaults, allowed values.
import { COMMAND_NAMES, INDEX_GROUPS } from './definition.js';
import type { CommandDef, CommandName, DefaultValue, NumericRange, OptionDef } from './definition.js';
import { findDefinition, hasEffect, indexedName } from './options.js';
import { formatSize } from './value.js';

/** The name shown for an entry: the first index of an indexed one (`repo1-path`). */
export function displayName(def: OptionDef): string {
  return indexedName(def, def.indexed === undefined ? undefined : 1);
}

/** For indexed entries with more than one index: `repo1-path .. repo4-path`. */
export function indexedRange(def: OptionDef): string | undefined {
  if (def.indexed === undefined) return undefined;
  const max = INDEX_GROUPS[def.indexed].max;
  return max > 1 ? `${indexedName(def, 1)} .. ${indexedName(def, max)}` : undefined;
}

export function typeLabel(def: OptionDef): string {
  switch (def.type) {
    case 'boolean':
      return 'boolean (y/n)';
    case 'time':
      return 'time (seconds, decimals allowed)';
    case 'size':
      return 'size (bytes, or with a unit: 64KiB, 1MiB)';
    case 'path':
      return 'path (absolute)';
    case 'list':
      return 'list (repeatable)';
    case 'hash':
      return 'hash (repeatable key=value)';
    default:
      return def.type;
  }
}

function formatValue(def: OptionDef, value: DefaultValue): string {
  if (typeof value === 'boolean') return value ? 'y' : 'n';
  return String(value);
}

function formatRange(def: OptionDef, range: NumericRange): string {
  const bound = (value: number) => (def.type === 'size' ? formatSize(value) : String(value));
  return `${bound(range.min)} to ${bound(range.max)}`;
}

function perCommand<T>(
  table: Partial<Record<CommandName, T>>,
  format: (value: T) => string,
  command: CommandName | undefined,
): string | undefined {
  if (command !== undefined) {
    const value = table[command];
    return value === undefined ? undefined : format(value);
  }
  const parts = COMMAND_NAMES.flatMap((name) => {
    const value = table[name];
    return value === undefined ? [] : [`${name}: ${format(value)}`];
  });
  return parts.length === 0 ? undefined : parts.join('; ');
}

/** The default for a command, or for every command when `command` is undefined; undefined when there is none. */
export function formatDefault(def: OptionDef, command?: CommandName): string | undefined {
  if (def.commandDefault !== undefined) {
    const value = perCommand(def.commandDefault, (item) => formatValue(def, item), command);
    if (value !== undefined) return value;
  }
  if (def.default !== undefined) return formatValue(def, def.default);
  if (def.byValueOf !== undefined) {
    const defaults = Object.entries(def.byValueOf.default).map(([key, value]) => `${key} ${value}`);
    return `by ${def.byValueOf.option}: ${defaults.join(', ')}`;
  }
  return undefined;
}

/** Allowed values or range, for a command or for every command; undefined when anything goes. */
export function formatAllowed(def: OptionDef, command?: CommandName): string | undefined {
  if (def.commandAllowed !== undefined) {
    const value = perCommand(def.commandAllowed, (items) => items.join(', '), command);
    if (value !== undefined) return value;
  }
  if (def.allowed !== undefined) return def.allowed.join(', ');
  if (def.range !== undefined) return formatRange(def, def.range);
  if (def.byValueOf !== undefined) {
    const ranges = Object.entries(def.byValueOf.range).map(
      ([key, range]) => `${key} ${formatRange(def, range)}`,
    );
    return `by ${def.byValueOf.option}: ${ranges.join(', ')}`;
  }
  if (def.pattern !== undefined) return def.pattern.description;
  if (def.hashValue === 'path') return 'name=absolute path';
  return undefined;
}

/** Where the option may be set. */
export function sectionLabel(def: OptionDef): string {
  const cli = def.secure === true ? '' : 'command line, ';
  switch (def.section) {
    case 'global':
      return `${cli}environment, config file [global] or [<stanza>] sections`;
    case 'stanza':
      return `${cli}environment, config file [<stanza>] sections`;
    case 'command-line':
      return `${cli}environment (not the config file)`;
  }
}

/** The condition under which the option applies, if any: `repo1-cipher-type is 'aes-256-gcm'`. */
export function dependLabel(def: OptionDef): string | undefined {
  if (def.depend === undefined) return undefined;
  const related = findDefinition(def.depend.option);
  const name = related === undefined ? def.depend.option : displayName(related);
  return `${name} is ${def.depend.values.map((value) => `'${value}'`).join(' or ')}`;
}

/** How help and the reference show what is listed but not implemented yet. */
export const NOT_YET_AVAILABLE = 'not yet available';

/** A command's summary, marked when the command is not yet available. */
export function commandSummary(command: CommandDef): string {
  return command.notYetAvailable === true ? `${command.summary} (${NOT_YET_AVAILABLE})` : command.summary;
}

/**
 * Where the option does nothing yet: for one command, 'not yet available' or undefined; for every command (the
 * reference), `not yet available for archive-get, archive-push` or plain 'not yet available' when nowhere.
 */
export function availabilityLabel(def: OptionDef, command?: CommandName): string | undefined {
  if (command !== undefined) return hasEffect(def, command) ? undefined : NOT_YET_AVAILABLE;
  const without = def.commands.filter((name) => !hasEffect(def, name));
  if (without.length === 0) return undefined;
  return without.length === def.commands.length
    ? NOT_YET_AVAILABLE
    : `${NOT_YET_AVAILABLE} for ${without.join(', ')}`;
}

/** Allowed values not yet available: `diff, incr` for a command, `backup: diff, incr` for every command. */
export function valuesNotYetAvailableLabel(def: OptionDef, command?: CommandName): string | undefined {
  const table = def.valuesNotYetAvailable;
  return table === undefined ? undefined : perCommand(table, (values) => values.join(', '), command);
}
