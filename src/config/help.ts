// Help and version text, generated from the option and command tables.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PgStashError } from '../common/errors.js';
import { CATEGORY_TITLES, COMMANDS, OPTIONS } from './definition.js';
import type { CommandDef, OptionCategory, OptionDef } from './definition.js';
import {
  NOT_YET_AVAILABLE,
  availabilityLabel,
  commandSummary,
  dependLabel,
  displayName,
  formatAllowed,
  formatDefault,
  indexedRange,
  sectionLabel,
  typeLabel,
  valuesNotYetAvailableLabel,
} from './describe.js';
import { envName, findCommand, findDefinition, findOption, validFor } from './options.js';

let version: string | undefined;

/** The version in package.json, found by walking up from this file (src/config or dist/src/config). */
export function packageVersion(): string {
  if (version !== undefined) return version;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (parsed.name === 'pgstash' && typeof parsed.version === 'string') return (version = parsed.version);
    }
    const parent = dirname(dir);
    if (parent === dir) return (version = 'unknown');
    dir = parent;
  }
}

export function versionText(): string {
  return `pgstash ${packageVersion()}\n`;
}

function usage(command: CommandDef): string {
  const args = command.args
    .map((arg) => (arg.optional === true ? ` [${arg.name}]` : ` <${arg.name}>`))
    .join('');
  return `pgstash [options] ${command.name}${args}`;
}

function commandList(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  const lines = COMMANDS.map((command) => `    ${command.name.padEnd(width)}  ${commandSummary(command)}`);
  return [
    `pgstash ${packageVersion()} - PostgreSQL backup and recovery manager`,
    '',
    'Usage:',
    '    pgstash [options] <command> [arguments]',
    '',
    'Commands:',
    ...lines,
    '',
    "Use 'pgstash help <command>' for more information.",
    '',
  ].join('\n');
}

function commandHelp(command: CommandDef): string {
  const options = OPTIONS.filter((def) => validFor(def, command.name));
  const width = Math.max(0, ...options.map((def) => displayName(def).length + 2));
  const lines = [
    `pgstash ${packageVersion()} - '${command.name}' command help`,
    '',
    commandSummary(command),
    '',
  ];
  lines.push('Usage:', `    ${usage(command)}`, '');
  if (command.args.length > 0) {
    lines.push('Arguments:');
    const argWidth = Math.max(...command.args.map((arg) => arg.name.length));
    for (const arg of command.args) lines.push(`    ${arg.name.padEnd(argWidth)}  ${arg.description}`);
    lines.push('');
  }
  const categories = [...new Set(options.map((def) => def.category))] as OptionCategory[];
  for (const category of categories) {
    lines.push(`${CATEGORY_TITLES[category]}:`, '');
    for (const def of options.filter((item) => item.category === category)) {
      const notes: string[] = [];
      const availability = availabilityLabel(def, command.name);
      if (availability !== undefined) notes.push(availability);
      const notYetValues = valuesNotYetAvailableLabel(def, command.name);
      if (notYetValues !== undefined) notes.push(`${notYetValues} ${NOT_YET_AVAILABLE}`);
      const fallback = formatDefault(def, command.name);
      if (fallback !== undefined) notes.push(`default=${fallback}`);
      if (def.required?.includes(command.name) === true) {
        const depend = dependLabel(def);
        notes.push(depend === undefined ? 'required' : `required when ${depend}`);
      }
      const range = indexedRange(def);
      if (range !== undefined) notes.push(range);
      const suffix = notes.length === 0 ? '' : ` [${notes.join(', ')}]`;
      lines.push(`    --${displayName(def).padEnd(width)}  ${def.summary}${suffix}`);
    }
    lines.push('');
  }
  if (options.length > 0) {
    lines.push(`Use 'pgstash help ${command.name} <option>' for more information about an option.`, '');
  }
  return lines.join('\n');
}

function optionHelp(command: CommandDef, def: OptionDef): string {
  const name = displayName(def);
  const lines = [
    `pgstash ${packageVersion()} - '${command.name}' command - '${name}' option help`,
    '',
    def.summary,
  ];
  if (def.description !== undefined) lines.push('', def.description);
  lines.push('', `type: ${typeLabel(def)}`);
  const allowed = formatAllowed(def, command.name);
  if (allowed !== undefined) lines.push(`allowed: ${allowed}`);
  const notYet = valuesNotYetAvailableLabel(def, command.name);
  if (notYet !== undefined) lines.push(`${NOT_YET_AVAILABLE}: ${notYet}`);
  const availability = availabilityLabel(def, command.name);
  if (availability !== undefined) lines.push(`availability: ${availability} for ${command.name}`);
  const fallback = formatDefault(def, command.name);
  if (fallback !== undefined) lines.push(`default: ${fallback}`);
  const depend = dependLabel(def);
  if (depend !== undefined) lines.push(`applies when: ${depend}`);
  if (def.required?.includes(command.name) === true)
    lines.push(`required: yes${depend === undefined ? '' : ', when it applies'}`);
  const range = indexedRange(def);
  if (range !== undefined) lines.push(`indexed: ${range}`);
  lines.push(`set in: ${sectionLabel(def)}`);
  lines.push(`environment: ${envName(name)}`);
  if (def.secure === true) lines.push('secure: not allowed on the command line, never logged');
  lines.push('');
  return lines.join('\n');
}

/**
 * `pgstash help` lists the commands; `help <command>` shows its options; `help <command> <option>` one option
 * (by concrete name such as repo2-path, or table name such as repo-path).
 */
export function helpText(topic?: string, optionName?: string): string {
  if (topic === undefined) return commandList();
  const command = findCommand(topic);
  if (command === undefined) {
    throw new PgStashError('commandInvalid', `invalid command '${topic}'`, {
      hint: "run 'pgstash help' to list the commands",
    });
  }
  if (optionName === undefined) return commandHelp(command);
  const def = findOption(optionName)?.def ?? findDefinition(optionName);
  if (def === undefined || !validFor(def, command.name)) {
    throw new PgStashError('optionInvalid', `invalid option '${optionName}' for command '${command.name}'`, {
      hint: `run 'pgstash help ${command.name}' to list its options`,
    });
  }
  return optionHelp(command, def);
}
