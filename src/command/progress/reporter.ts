// Reports a backup's or restore's progress while it copies: a live line on a terminal, an info log line at most
// once per interval, and (backup) a record for `info`, all from one set of figures.
import { isatty } from 'node:tty';
import { log, type LogLevel } from '../../common/log.js';
import { messageOf } from '../../common/errors.js';
import type { LoadedConfig } from '../../config/load.js';
import { ProgressCounter } from './counter.js';
import { figuresOf, progressText, RateMeter, type ProgressFigures } from './figures.js';
import { LiveLine } from './live-line.js';
import { Throttle } from './throttle.js';

export interface ProgressSettings {
  /** Between two info log lines, and two records of a backup's progress in the repository. */
  readonly intervalMs: number;
  /** Draw the live line (stderr is a terminal, and the console is not asked to be quiet). */
  readonly live: boolean;
}

/**
 * Console levels that show the live line. `error` and `off` ask the console to be quiet (pgBackRest has no
 * option to turn progress off: its console level is the way); the default `warn` shows it.
 */
const LIVE_LEVELS: ReadonlySet<LogLevel> = new Set(['warn', 'info', 'detail', 'debug', 'trace']);

export function progressSettings(config: LoadedConfig): ProgressSettings {
  return {
    intervalMs: config.get('progress-interval') * 1000,
    live: isatty(STDERR) && LIVE_LEVELS.has(config.get('log-level-console')),
  };
}

const STDERR = 2;

/** How often the live line is redrawn and the rate sampled. */
const TICK_MS = 1000;

export interface ProgressReporterOptions {
  /** Names the figures in the log line: `backup progress: ...`. */
  readonly command: 'backup' | 'restore';
  readonly settings: ProgressSettings;
  /** restore --delta: the files done are told apart as kept and rewritten. */
  readonly delta?: boolean;
  /**
   * Keeps the figures where another process reads them (a backup's record in the repository, for `info`): called
   * when the copy starts, at most once per interval, and once at the end; never while a call is still running.
   */
  readonly record?: (figures: ProgressFigures) => Promise<void>;
  /** The clock (milliseconds, monotonic); tests drive their own. */
  readonly now?: () => number;
}

export class ProgressReporter {
  /** Bytes done: worker threads add as they copy (pass `counter.buffer` in their workerData), the main thread too. */
  readonly counter = new ProgressCounter();
  readonly #options: ProgressReporterOptions;
  readonly #now: () => number;
  readonly #rate = new RateMeter();
  readonly #logThrottle: Throttle;
  readonly #recordThrottle: Throttle;
  readonly #line: LiveLine | undefined;
  #timer: NodeJS.Timeout | undefined;
  #bytesTotal = 0;
  #filesTotal = 0;
  #filesDone = 0;
  #kept = 0;
  #written = 0;
  #recording: Promise<void> | undefined;
  #recordFailed = false;

  constructor(options: ProgressReporterOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#logThrottle = new Throttle(options.settings.intervalMs, this.#now);
    this.#recordThrottle = new Throttle(options.settings.intervalMs, this.#now);
    this.#line = options.settings.live ? new LiveLine() : undefined;
  }

  /** The copy starts, with what it has to do: from now on the figures are reported. */
  start(totals: { bytes: number; files: number }): void {
    this.#bytesTotal = totals.bytes;
    this.#filesTotal = totals.files;
    this.#rate.sample(this.#now(), this.counter.bytes);
    this.#draw();
    this.#record();
    this.#timer = setInterval(() => this.tick(), Math.min(TICK_MS, this.#options.settings.intervalMs));
    // Never what keeps the process alive.
    this.#timer.unref();
  }

  /** A file that will not be copied after all (gone since it was listed): out of the totals. */
  skipped(bytes: number): void {
    this.#bytesTotal = Math.max(0, this.#bytesTotal - bytes);
    this.#filesTotal = Math.max(0, this.#filesTotal - 1);
  }

  /** `files` more are done; their bytes were counted as they were copied, or are `bytes` (not copied: reused). */
  filesDone(files: number, bytes = 0): void {
    this.#filesDone += files;
    this.counter.add(bytes);
  }

  /** restore --delta: files done, `kept` of them found matching (their bytes checked), `written` rewritten. */
  deltaDone(result: { kept: number; keptBytes: number; written: number }): void {
    this.#kept += result.kept;
    this.#written += result.written;
    this.filesDone(result.kept + result.written, result.keptBytes);
  }

  figures(): ProgressFigures {
    return figuresOf(
      {
        bytesTotal: this.#bytesTotal,
        bytesDone: this.counter.bytes,
        filesTotal: this.#filesTotal,
        filesDone: this.#filesDone,
        ...(this.#options.delta === true ? { delta: { kept: this.#kept, written: this.#written } } : {}),
      },
      this.#rate.rate(),
    );
  }

  /** One turn of the clock: sample the rate, redraw the line, and log and record when their interval is due. */
  tick(): void {
    this.#rate.sample(this.#now(), this.counter.bytes);
    this.#draw();
    if (this.#logThrottle.due()) {
      const figures = this.figures();
      log.info(`${this.#options.command} progress: ${progressText(figures)}`, {
        percent: figures.percent,
        bytesDone: figures.bytesDone,
        bytesTotal: figures.bytesTotal,
        bytesPerSecond: figures.rate === undefined ? null : Math.round(figures.rate),
        etaSeconds: figures.etaSeconds ?? null,
        filesDone: figures.filesDone,
        filesTotal: figures.filesTotal,
        ...(figures.delta === undefined
          ? {}
          : { filesKept: figures.delta.kept, filesRewritten: figures.delta.written }),
      });
    }
    if (this.#recordThrottle.due()) this.#record();
  }

  /**
   * Stops reporting: the live line is cleared, and a record under way finishes; with `final`, the figures are
   * recorded once more (the copy is done). Safe to call more than once.
   */
  async stop(options: { final: boolean }): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#line?.close();
    await this.#recording;
    if (options.final) {
      this.#record();
      await this.#recording;
    }
  }

  #draw(): void {
    this.#line?.show(`${this.#options.command}: ${progressText(this.figures())}`);
  }

  #record(): void {
    const record = this.#options.record;
    if (record === undefined || this.#recording !== undefined || this.#recordFailed) return;
    this.#recording = record(this.figures())
      .catch((error: unknown) => {
        // Progress is for people watching; the copy goes on without it.
        this.#recordFailed = true;
        log.warn(`unable to record the ${this.#options.command}'s progress: ${messageOf(error)}`);
      })
      .finally(() => (this.#recording = undefined));
  }
}
