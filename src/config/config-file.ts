// Reads the INI config file (synchronously: archive-push runs once per WAL file) and checks its keys.
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { decode } from 'ini';
import { PgStashError, errnoOf, messageOf, reasonOf } from '../common/errors.js';
import { findCommand, findOption, validFor } from './options.js';

/** Keys of one section; a key given more than once keeps every value in file order. */
export type ConfigSection = ReadonlyMap<string, readonly string[]>;

export interface ConfigFile {
  readonly path: string;
  readonly sections: ReadonlyMap<string, ConfigSection>;
  /** Problems that do not stop the command (returned to the caller, never printed here). */
  readonly warnings: readonly string[];
}

const SECTION_LINE = /^\[([^\]]*)\]\s*$/;
const COMMENT_LINE = /^\s*[;#]/;

function malformed(path: string, line: number, text: string, problem: string): never {
  // A broken line may hold a passphrase: never echo one.
  const shown = /pass/i.test(text) ? '<line hidden: it may hold a passphrase>' : text.trim();
  throw new PgStashError('config', `${problem} at line ${line} of config file '${path}': '${shown}'`, {
    hint: 'each line must be a [section], a key=value pair or a comment starting with # or ;',
  });
}

/**
 * Refuses the lines the `ini` package would silently skip or misread: it turns `key` without `=` into `true`,
 * ignores unparsable section headers, accepts keys outside any section, and cuts values at an unquoted ';' or '#'
 * (a comment in its dialect but not in pgBackRest's, where it is part of the value: silently shortening a
 * passphrase would be far worse than an error).
 */
function checkLines(path: string, text: string): void {
  let section: string | undefined;
  const lines = text.split(/\r\n|\n|\r/);
  for (const [i, line] of lines.entries()) {
    const number = i + 1;
    if (line.trim() === '' || COMMENT_LINE.test(line)) continue;
    const header = SECTION_LINE.exec(line);
    if (header !== null) {
      section = (header[1] ?? '').trim();
      if (section === '') malformed(path, number, line, 'empty section name');
      continue;
    }
    if (line.trim().startsWith('[')) malformed(path, number, line, 'invalid section header');
    const equals = line.indexOf('=');
    if (equals === -1) malformed(path, number, line, "missing '='");
    const key = line.slice(0, equals).trim();
    if (key === '') malformed(path, number, line, 'missing key');
    if (section === undefined) malformed(path, number, line, 'key/value found outside of any section');
    const value = line.slice(equals + 1).trim();
    const quoted = value.length > 1 && /^(".*"|'.*')$/.test(value);
    if (!quoted && /(^|[^\\])[;#]/.test(value)) {
      // The value itself is not quoted in the message: it may be a passphrase.
      throw new PgStashError(
        'config',
        `the value of '${key}' at line ${number} of config file '${path}' contains an unquoted ';' or '#'`,
        {
          hint: 'the ini format reads the rest as a comment: quote the value ("...") or escape it as \\; or \\#',
        },
      );
    }
  }
}

function toText(value: unknown): string {
  // ini turns true/false/null into JSON values; options want the text back.
  return typeof value === 'string' ? value : String(value);
}

/** ini nests `[a.b]` as a.b: flatten those back into section names containing dots. */
function flatten(name: string, object: Record<string, unknown>, into: Map<string, ConfigSection>): void {
  const keys = new Map<string, string[]>();
  for (const key of Object.keys(object)) {
    const value = object[key];
    if (Array.isArray(value)) keys.set(key, value.map(toText));
    else if (value !== null && typeof value === 'object') {
      flatten(`${name}.${key}`, value as Record<string, unknown>, into);
    } else keys.set(key, [toText(value)]);
  }
  into.set(name, keys);
}

function read(path: string): { text: string; mode: number } | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const mode = fstatSync(fd).mode;
    return { text: readFileSync(fd, 'utf8'), mode };
  } catch (error) {
    return errnoOf(error) === 'ENOENT' ? undefined : unreadable(path, error);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function unreadable(path: string, error: unknown): never {
  const code = errnoOf(error);
  throw new PgStashError(
    'config',
    `unable to read config file '${path}': ${code === undefined ? messageOf(error) : `${reasonOf(error)} (${code})`}`,
    {
      cause: error,
      // A file root made for itself (mode 600) is the usual case: PostgreSQL runs archive-push as its own user.
      ...(code === 'EACCES' || code === 'EPERM'
        ? { hint: 'the user running pgstash (postgres, for archive_command) must be able to read it' }
        : {}),
    },
  );
}

/**
 * Reads and parses the config file. A missing file returns undefined when `required` is false (the default
 * path), and is error `config` (27) otherwise; an unreadable or malformed file is always error 27.
 */
export function readConfigFile(path: string, options: { required: boolean }): ConfigFile | undefined {
  const content = read(path);
  if (content === undefined) {
    if (!options.required) return undefined;
    throw new PgStashError('config', `unable to open config file '${path}': no such file (ENOENT)`, {
      hint: 'check --config or PGSTASH_CONFIG, or leave both unset to use /etc/pgstash/pgstash.conf',
    });
  }

  const warnings: string[] = [];
  checkLines(path, content.text);
  // bracketedArray false: a key repeated in a section (recovery-option=..., twice) becomes an array of values.
  const decoded = decode(content.text, { bracketedArray: false }) as Record<string, unknown>;
  const sections = new Map<string, ConfigSection>();
  for (const name of Object.keys(decoded)) {
    const value = decoded[name];
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      flatten(name, value as Record<string, unknown>, sections);
    }
  }

  const warning = secretAccessWarning(path, content.mode, sections);
  if (warning !== undefined) warnings.push(warning);
  return { path, sections, warnings };
}

/**
 * A file holding a secure option (a passphrase) must be its owner's alone: any access for group or others (even
 * 0640 or 0620) is warned about, and the advice is the one mode that does not warn, 0600.
 */
function secretAccessWarning(
  path: string,
  mode: number,
  sections: ReadonlyMap<string, ConfigSection>,
): string | undefined {
  if ((mode & 0o077) === 0) return undefined;
  const secret = [...sections.values()]
    .flatMap((keys) => [...keys.keys()])
    .find((key) => findOption(key)?.def.secure === true);
  if (secret === undefined) return undefined;
  const shown = (mode & 0o777).toString(8).padStart(4, '0');
  return (
    `config file '${path}' holds '${secret}' but group or others have access to it (mode ${shown}): ` +
    `only its owner should read it, run chmod 600 '${path}'`
  );
}

/** Warnings for keys that no section may hold or that its command does not take; values are not checked here. */
export function checkConfigKeys(file: ConfigFile): string[] {
  const warnings: string[] = [];
  const where = `config file '${file.path}'`;
  for (const [section, keys] of file.sections) {
    const parts = section.split(':');
    const commandName = parts[1];
    const command = commandName === undefined ? undefined : findCommand(commandName);
    if (parts.length > 2 || parts[0] === '' || (commandName !== undefined && command === undefined)) {
      warnings.push(`${where} contains invalid section [${section}]: it is ignored`);
      continue;
    }
    const global = parts[0] === 'global';
    for (const key of keys.keys()) {
      const option = findOption(key);
      if (option === undefined) {
        warnings.push(`${where} contains invalid option '${key}' in section [${section}]`);
      } else if (option.def.section === 'command-line') {
        warnings.push(
          `${where} contains command-line only option '${key}' in section [${section}]: it is ignored`,
        );
      } else if (option.def.section === 'stanza' && global) {
        warnings.push(
          `${where} contains stanza-only option '${key}' in global section [${section}]: it is ignored`,
        );
      } else if (command !== undefined && !validFor(option.def, command.name)) {
        warnings.push(
          `${where} contains option '${key}' in section [${section}], which '${command.name}' does not take`,
        );
      }
    }
  }
  return warnings;
}
