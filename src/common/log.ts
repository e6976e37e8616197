// Logging: readable lines on the console (synchronous), JSON lines in the log file (synchronous), secrets redacted.
import { closeSync, fchownSync, fstatSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { reasonOf } from './errors.js';
import { ownerToKeep } from './os-users.js';
import { writeConsole } from './console-write.js';

/** pgBackRest's log levels, lowest first; `off` disables a destination. */
export const LOG_LEVELS = ['trace', 'debug', 'detail', 'info', 'warn', 'error', 'off'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
type MessageLevel = Exclude<LogLevel, 'off'>;

/** Numeric values of the levels (pino's, which wrote the file log before: its lines keep that format). */
const LEVEL_VALUE: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  detail: 25,
  info: 30,
  warn: 40,
  error: 50,
  off: Infinity,
};

export interface LogSettings {
  readonly command: string;
  readonly stanza?: string | undefined;
  readonly console: LogLevel;
  readonly stderr: LogLevel;
  readonly file: LogLevel;
  readonly path?: string | undefined;
}

/** Field names whose values never reach any log destination. */
const SECRET_KEYS = /pass|secret|key|token|credential/i;

/**
 * Something drawn on the terminal that console lines must not be written into (backup's and restore's live
 * progress line): cleared before each console line and drawn again after it.
 */
export interface ConsoleOverlay {
  clear(): void;
  redraw(): void;
}

/** The log file belongs to the log path's owner when root writes in another user's (os-users.ts ownerToKeep). */
function keepDirectoryOwner(fd: number, directory: string): void {
  const owner = ownerToKeep(statSync(directory));
  if (owner === undefined) return;
  const file = fstatSync(fd);
  if (file.uid !== owner.uid || file.gid !== owner.gid) fchownSync(fd, owner.uid, owner.gid);
}

class Logger {
  overlay: ConsoleOverlay | undefined;
  #settings: LogSettings = { command: 'pgstash', console: 'warn', stderr: 'off', file: 'off' };
  #fileFd: number | undefined;

  async configure(settings: LogSettings): Promise<void> {
    this.close();
    this.#settings = settings;
    if (settings.file !== 'off' && settings.path !== undefined) await this.#openFile(settings);
  }

  /** The file log is optional: a missing or unwritable log directory only warns (archiving must never stall). */
  async #openFile(settings: LogSettings): Promise<void> {
    const name = `${settings.stanza ?? 'all'}-${settings.command}.log`;
    const file = join(settings.path ?? '', name);
    try {
      mkdirSync(settings.path ?? '', { recursive: true, mode: 0o750 });
      this.#fileFd = openSync(file, 'a', 0o640);
      // Only root can give the file away: no stat of the log path for any other user (archive-push runs often).
      if (process.geteuid?.() === 0) keepDirectoryOwner(this.#fileFd, settings.path ?? '');
    } catch (error) {
      this.#fileFd = undefined;
      const reason = reasonOf(error);
      this.#writeConsole(
        'warn',
        `unable to open log file '${file}': ${reason}; file logging is disabled`,
        true,
      );
      return;
    }
  }

  log(level: MessageLevel, message: string, fields?: Record<string, unknown>): void {
    const settings = this.#settings;
    const value = LEVEL_VALUE[level];
    const consoleOn = value >= LEVEL_VALUE[settings.console];
    const stderrOn = value >= LEVEL_VALUE[settings.stderr];
    if (consoleOn || stderrOn) {
      const toStderr = stderrOn || value >= LEVEL_VALUE.warn;
      this.#writeConsole(level, message, toStderr);
    }
    if (this.#fileFd !== undefined && value >= LEVEL_VALUE[settings.file]) {
      this.#writeFile(level, message, fields);
    }
  }

  /**
   * One JSON line, written at once (O_APPEND: lines of concurrent processes never interleave), in the format pino
   * wrote before: level, time, pid, command, stanza, the fields (secret-looking keys redacted), msg. Written here
   * rather than through pino: loading pino cost ~18 ms of CPU per process, 30% of an archive-push answered from
   * the spool, and PostgreSQL starts one per segment.
   */
  #writeFile(level: MessageLevel, message: string, fields: Record<string, unknown> | undefined): void {
    const { command, stanza } = this.#settings;
    const line = JSON.stringify({
      level,
      time: new Date().toISOString(),
      pid: process.pid,
      command,
      stanza,
      ...redact(fields ?? {}),
      msg: message,
    });
    try {
      writeSync(this.#fileFd ?? -1, `${line}\n`);
    } catch {
      // A full or failing disk must not fail the command: the file log is optional (see #openFile).
    }
  }

  #writeConsole(level: MessageLevel, message: string, toStderr: boolean): void {
    const line = `${level.toUpperCase().padStart(6)}: ${message}\n`;
    this.overlay?.clear();
    writeConsole(toStderr ? 2 : 1, line);
    this.overlay?.redraw();
  }

  close(): void {
    if (this.#fileFd !== undefined) {
      try {
        closeSync(this.#fileFd);
      } catch {
        // Already closed.
      }
    }
    this.#fileFd = undefined;
  }
}

/** Copies `fields`, replacing the value of any key that looks secret, at any depth. */
export function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (SECRET_KEYS.test(key)) out[key] = '<redacted>';
    else if (
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      !(value instanceof Error)
    )
      out[key] = redact(value as Record<string, unknown>);
    else if (typeof value === 'bigint') out[key] = value.toString();
    else out[key] = value;
  }
  return out;
}

const logger = new Logger();

/** The process-wide log. Before `configureLog`, warnings and errors go to stderr and nothing to a file. */
export const log = {
  error: (message: string, fields?: Record<string, unknown>) => logger.log('error', message, fields),
  warn: (message: string, fields?: Record<string, unknown>) => logger.log('warn', message, fields),
  info: (message: string, fields?: Record<string, unknown>) => logger.log('info', message, fields),
  detail: (message: string, fields?: Record<string, unknown>) => logger.log('detail', message, fields),
  debug: (message: string, fields?: Record<string, unknown>) => logger.log('debug', message, fields),
  trace: (message: string, fields?: Record<string, unknown>) => logger.log('trace', message, fields),
};

export function configureLog(settings: LogSettings): Promise<void> {
  return logger.configure(settings);
}

/** Sets (or with undefined removes) what console lines are written around; see ConsoleOverlay. */
export function setConsoleOverlay(overlay: ConsoleOverlay | undefined): void {
  logger.overlay = overlay;
}

export function closeLog(): void {
  logger.close();
}
