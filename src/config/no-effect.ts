// Warnings for options that are set but do nothing for the command run: not yet available there (see effectiveFor).
import type { CommandName } from './definition.js';
import { CONCRETE_OPTIONS, defaultFor, hasEffect } from './options.js';
import type { Resolved } from './resolve.js';

/**
 * The commands PostgreSQL runs once per WAL file (archive_command, restore_command): their warnings land in the
 * server log, once for every segment.
 */
const RUN_PER_WAL_FILE: ReadonlySet<CommandName> = new Set(['archive-get', 'archive-push']);

/**
 * One warning for each option set for `command` that has no effect on it. A value set for this command alone (the
 * command line, a [global:<command>] or [<stanza>:<command>] section) warns whenever it does nothing here. One
 * that applies to every command (the environment, [global], [<stanza>]) warns only when it does nothing for any
 * command: process-max in [global] is for backup and restore, and archive-push, which ignores it, must not warn
 * about it for every WAL segment. For the same reason archive-push and archive-get never warn about a value set
 * for every command, even one that does nothing anywhere yet (buffer-size in [global]): the commands a DBA runs
 * (backup, check, info, restore) say it once, at the console, instead of the server log on every segment.
 */
export function noEffectWarnings(command: CommandName, values: ReadonlyMap<string, Resolved>): string[] {
  const warnings: string[] = [];
  for (const option of CONCRETE_OPTIONS) {
    const resolved = values.get(option.name);
    if (resolved === undefined || resolved.source === 'default' || hasEffect(option.def, command)) continue;
    // Set to what happens anyway (--no-delta): nothing is lost.
    if (resolved.value === defaultFor(option.def, command)) continue;
    const effective = option.def.effectiveFor ?? [];
    if (resolved.forCommand !== true && (effective.length > 0 || RUN_PER_WAL_FILE.has(command))) continue;
    const applies = effective.length === 0 ? '' : `; it applies to ${joinAnd(effective)}`;
    warnings.push(
      `option '${option.name}' set ${resolved.origin ?? ''} has no effect on ${command} ` +
        `(not yet available there${applies})`,
    );
  }
  return warnings;
}

/** `a, b and c`. */
function joinAnd(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1) ?? ''}`;
}
