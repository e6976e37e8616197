// Runs one pgstash command: argv + env -> config -> command -> exit code.
import { resolve } from 'node:path';
import { ERROR_CODES, isPgStashError, messageOf, PgStashError } from './common/errors.js';
import { writeConsole } from './common/console-write.js';
import { closeLog, configureLog, log } from './common/log.js';
import { restoreCommandExitCode, STOP_RECOVERY_OFFSET } from './command/archive/recovery-exit.js';
import { parseCommandLine } from './config/argv.js';
import { configWarningsBefore, loadConfig, type LoadedConfig } from './config/load.js';
import { removeTempFilesNow } from './storage/temp-files.js';
import type { Command } from './command/context.js';
import { pgstashVersion } from './version.js';

/** Each command's module is imported only when it runs: archive-push must not pay for backup's imports. */
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  'archive-push': async () => (await import('./command/archive/push.js')).archivePush,
  'archive-get': async () => (await import('./command/archive/get.js')).archiveGet,
  'stanza-create': async () => (await import('./command/stanza-create.js')).stanzaCreate,
  check: async () => (await import('./command/check.js')).check,
  info: async () => (await import('./command/info/index.js')).info,
  backup: async () => (await import('./command/backup/index.js')).backup,
  restore: async () => (await import('./command/restore/index.js')).restore,
  expire: async () => (await import('./command/expire/index.js')).expire,
  annotate: async () => (await import('./command/annotate.js')).annotate,
  drill: async () => (await import('./command/drill/index.js')).drill,
  verify: async () => (await import('./command/verify/index.js')).verify,
};

/**
 * Long commands turn SIGTERM/SIGINT into a cancel signal so they can remove what they started; a second
 * signal ends the process at once. Short commands (archive-push/get) die at once, as by default, after
 * removing their temp files (see removeTempFilesOnSignal).
 */
const CANCELLABLE = new Set(['backup', 'restore', 'check', 'stanza-create', 'drill', 'verify']);

function cancelSignal(command: string): AbortSignal {
  const controller = new AbortController();
  if (!CANCELLABLE.has(command)) {
    removeTempFilesOnSignal();
    return controller.signal;
  }
  const onSignal = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(ERROR_CODES.term.code);
    log.warn(`${command} received ${name}: stopping and cleaning up`);
    controller.abort(new PgStashError('term', `terminated on signal [${name}]`));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return controller.signal;
}

/**
 * A short command still dies of a signal, but first removes the temp files it is writing: on shutdown PostgreSQL
 * signals its archive_command and restore_command too, and a partial segment left in pg_wal or in the repository
 * would stay there for good. It dies of the signal itself, not with an exit code: PostgreSQL tells a shutdown
 * (SIGTERM) from a failed restore_command by that, and takes a failure for the end of the archive.
 */
function removeTempFilesOnSignal(): void {
  for (const name of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'] as const) {
    const onSignal = (): void => {
      removeTempFilesNow();
      process.removeListener(name, onSignal);
      process.kill(process.pid, name);
    };
    process.on(name, onSignal);
  }
}

function formatError(error: PgStashError): string {
  const code = String(error.code).padStart(3, '0');
  return `[${code}]: ${error.message}${error.hint === undefined ? '' : `\nHINT: ${error.hint}`}`;
}

/** Reports an error the way a DBA reads it: one line with the code, a hint, and a stack trace only for bugs. */
function reportError(error: unknown, configured: boolean): number {
  if (isPgStashError(error)) {
    if (configured) log.error(formatError(error));
    else writeConsole(2, `ERROR: ${formatError(error)}\n`);
    return error.code;
  }
  const detail = error instanceof Error && error.stack !== undefined ? error.stack : messageOf(error);
  const text = `[${ERROR_CODES.unhandled.code}]: unexpected error: ${messageOf(error)}\n${detail}`;
  if (configured) log.error(text);
  else writeConsole(2, `ERROR: ${text}\n`);
  return ERROR_CODES.unhandled.code;
}

/**
 * The command word of `argv`, as the parser reads it (it knows which options take the next argument as their
 * value); when the command line does not parse, its first argument that is not an option.
 */
function commandWord(argv: readonly string[]): string | undefined {
  try {
    return parseCommandLine(argv).command;
  } catch {
    return argv.find((arg) => !arg.startsWith('-'));
  }
}

/**
 * The exit code for an error that escaped every handler (an 'error' event nobody listens to, a promise nobody
 * awaits), after reporting it. Node would exit 1, which from archive-get means "not in the archive": PostgreSQL
 * would take a crash for the end of the archive. This is unhandled (124) instead, and stops archive recovery.
 */
export function crashExitCode(argv: readonly string[], error: unknown): number {
  return exitCodeFor(commandWord(argv), reportError(error, false));
}

/** archive-get run by PostgreSQL in archive recovery makes an error stop recovery (see recovery-exit.ts). */
function exitCodeFor(command: string | undefined, code: number, error?: unknown): number {
  if (command !== 'archive-get') return code;
  const exit = restoreCommandExitCode(code, undefined, error);
  if (exit !== code) {
    writeConsole(
      2,
      `HINT: exit code ${exit} (${STOP_RECOVERY_OFFSET} + ${code}) stops PostgreSQL's archive recovery here, rather than ` +
        'ending it early without the rest of the archive: fix the problem, then start the server again\n',
    );
  }
  return exit;
}

async function setupLog(config: LoadedConfig): Promise<void> {
  await configureLog({
    command: config.command,
    stanza: config.get('stanza'),
    console: config.get('log-level-console'),
    stderr: config.get('log-level-stderr'),
    file: config.get('log-level-file'),
    path: config.get('log-path'),
  });
  for (const warning of config.warnings) log.warn(warning);
}

/** Commands whose standard output is their result, which log lines must not interleave with. */
const RESULT_ON_STDOUT: ReadonlySet<string> = new Set(['info', 'verify']);

export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<number> {
  let config: LoadedConfig;
  try {
    config = loadConfig(argv, env);
  } catch (error) {
    for (const warning of configWarningsBefore(error)) log.warn(warning);
    return exitCodeFor(commandWord(argv), reportError(error, false));
  }
  if (config.command === 'help' || config.helpTopic !== undefined) {
    const { helpText } = await import('./config/help.js');
    writeConsole(1, helpText(config.helpTopic, config.args[1]));
    return 0;
  }
  if (config.command === 'version') {
    writeConsole(1, `pgstash ${pgstashVersion()}\n`);
    return 0;
  }
  const load = COMMANDS[config.command];
  if (load === undefined) {
    return reportError(
      new PgStashError('featureNotSupported', `command '${config.command}' is not implemented yet`),
      false,
    );
  }
  const started = Date.now();
  // A command whose standard output is its result (info, above all with --output=json) logs its begin and end
  // at debug, as pgBackRest's does: at log-level-console=info they would land in the middle of that output.
  const logBoundary = RESULT_ON_STDOUT.has(config.command) ? log.debug : log.info;
  try {
    await setupLog(config);
    logBoundary(`${config.command} command begin ${pgstashVersion()}`, { args: config.args });
    const run = await load();
    const code = await run({
      config,
      out: (text) => writeConsole(1, text),
      signal: cancelSignal(config.command),
      executable: [process.execPath, resolve(process.argv[1] ?? 'pgstash')],
    });
    logBoundary(`${config.command} command end: ${code === 0 ? 'completed successfully' : `exit ${code}`}`, {
      ms: Date.now() - started,
    });
    return code;
  } catch (error) {
    const code = exitCodeFor(config.command, reportError(error, true), error);
    logBoundary(`${config.command} command end: aborted with exception [${code}]`, {
      ms: Date.now() - started,
    });
    return code;
  } finally {
    closeLog();
  }
}
