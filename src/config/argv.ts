// Splits the command line into the command, its arguments and option values (options may stand on either side).
//
// Parsed by hand rather than with commander: commander binds options to one (sub)command, so options before and
// after the command would need every option registered twice; the indexed names (repo1-..repo4-) and --no-/--reset-
// forms would all have to be generated into it; and its own errors and exit codes would have to be translated into
// pgBackRest's (31, 32, 48). Precedence against the environment and the config file is resolved in load.ts anyway.
import { PgStashError } from '../common/errors.js';
import { envName, findOption } from './options.js';
import type { ConcreteOption } from './options.js';

/** What the command line says about one option: values to parse, or reset to the default. */
export interface CommandLineOption {
  readonly option: ConcreteOption;
  /** Texts in the order given (booleans: `y` for --x, `n` for --no-x). */
  readonly values: string[];
  /** `--reset-x`: ignore the environment and config file and use the default. */
  reset: boolean;
  /** `--no-config`: read no config file (booleans record --no-x as the value `n` instead). */
  negated: boolean;
}

export interface ParsedCommandLine {
  readonly command: string | undefined;
  readonly args: readonly string[];
  /** By concrete option name. */
  readonly options: ReadonlyMap<string, CommandLineOption>;
  readonly help: boolean;
  readonly version: boolean;
}

function invalidOption(spelled: string): never {
  throw new PgStashError('optionInvalid', `invalid option '${spelled}'`, {
    hint: "see 'pgstash help' for the commands, 'pgstash help <command>' for their options",
  });
}

/** Resolves `--name`, `--no-name` and `--reset-name` to an option and what to do with it. */
function resolveName(name: string): { option: ConcreteOption; form: 'set' | 'negate' | 'reset' } | undefined {
  const option = findOption(name);
  if (option !== undefined) return { option, form: 'set' };
  if (name.startsWith('no-')) {
    const negated = findOption(name.slice(3));
    // --no-config is pgBackRest's way to read no config file at all.
    if (negated?.def.type === 'boolean' || negated?.name === 'config')
      return { option: negated, form: 'negate' };
  }
  if (name.startsWith('reset-')) {
    const reset = findOption(name.slice(6));
    if (reset !== undefined) return { option: reset, form: 'reset' };
  }
  return undefined;
}

/**
 * Parses argv (without the node and script paths). Throws optionInvalid (31) for unknown options, secure options
 * and options missing their value. Whether an option is valid for the command is checked by the caller.
 */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const positional: string[] = [];
  const options = new Map<string, CommandLineOption>();
  let help = false;
  let version = false;

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    if (token === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!token.startsWith('-') || token === '-') {
      positional.push(token);
      continue;
    }
    if (!token.startsWith('--')) invalidOption(token);

    const equals = token.indexOf('=');
    const name = token.slice(2, equals === -1 ? undefined : equals);
    const inline = equals === -1 ? undefined : token.slice(equals + 1);
    const spelled = `--${name}`;
    if ((name === 'help' || name === 'version') && inline === undefined) {
      if (name === 'help') help = true;
      else version = true;
      continue;
    }
    const resolved = resolveName(name) ?? invalidOption(spelled);
    const { option, form } = resolved;
    if (option.def.secure === true) {
      throw new PgStashError('optionInvalid', `option '${option.name}' is not allowed on the command-line`, {
        hint: `set it in the config file (readable only by its owner) or in the environment as ${envName(option.name)}`,
      });
    }
    if (form !== 'set' && inline !== undefined) invalidOption(token.slice(0, equals));

    const entry = options.get(option.name) ?? { option, values: [], reset: false, negated: false };
    options.set(option.name, entry);
    if (form === 'reset') {
      entry.reset = true;
    } else if (form === 'negate') {
      if (option.def.type === 'boolean') entry.values.push('n');
      else entry.negated = true;
    } else if (inline !== undefined) {
      entry.values.push(inline);
    } else if (option.def.type === 'boolean') {
      entry.values.push('y');
    } else {
      const next = argv[i + 1];
      if (next === undefined) {
        throw new PgStashError('optionInvalid', `option '${spelled}' requires a value`, {
          hint: `write ${spelled}=<value>`,
        });
      }
      entry.values.push(next);
      i++;
    }
    if (Number(entry.reset) + Number(entry.negated) + Number(entry.values.length > 0) > 1) {
      throw new PgStashError(
        'optionInvalid',
        `option '${option.name}' cannot be set, negated or reset together`,
      );
    }
  }

  const [command, ...args] = positional;
  return { command, args, options, help, version };
}
