// Logging: readable lines on the console (synchronous), JSON lines in the log file through pino, secrets redacted.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { reasonOf } from './errors.js';
import { writeConsole } from './console-write.js';

/** pgBackRest's log levels, lowest first; `off` disables a destination. */
export const LOG_LEVELS = ['trace', 'debug', 'detail', 'info', 'warn', 'error', 'off'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
type MessageLevel = Exclude<LogLevel, 'off'>;

/** Numeric values shared with pino (pino has no 'detail': it is registered as a custom level). */
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

interface PinoLike {
  [level: string]: unknown;
  flush?(): void;
}

/** Minimal pino surface we use: level methods taking (fields, message). */
type PinoWrite = (fields: object, message: string) => void;

/**
 * Something drawn on the terminal that console lines must not be written into (backup's and restore's live
 * progress line): cleared before each console line and drawn again after it.
 */
export interface ConsoleOverlay {
  clear(): void;
  redraw(): void;
}

class Logger {
  overlay: ConsoleOverlay | undefined;
  #settings: LogSettings = { command: 'pgstash', console: 'warn', stderr: 'off', file: 'off' };
  #file: PinoLike | undefined;
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
    // pino is loaded only when a file log is open: it costs tens of milliseconds to import.
    const { default: pino } = await import('pino');
    this.#file = pino(
      {
        level: settings.file,
        customLevels: { detail: LEVEL_VALUE.detail },
        base: { pid: process.pid, command: settings.command, stanza: settings.stanza },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      pino.destination({ dest: this.#fileFd, sync: true }),
    ) as unknown as PinoLike;
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
    if (this.#file !== undefined && value >= LEVEL_VALUE[settings.file]) {
      // Redaction is ours rather than pino's path-based redact: any secret-looking key, at any depth.
      const write = this.#file[level] as PinoWrite;
      write.call(this.#file, redact(fields ?? {}), message);
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
      this.#file?.flush?.();
      try {
        closeSync(this.#fileFd);
      } catch {
        // Already closed by the destination.
      }
    }
    this.#file = undefined;
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
