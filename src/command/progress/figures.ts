// The arithmetic of a progress report: percent of bytes, transfer rate over a recent window, ETA, and their text.
import { formatBytes } from '../../common/size.js';

/** What a backup or restore has done so far, and of how much. */
export interface ProgressCounts {
  readonly bytesTotal: number;
  readonly bytesDone: number;
  readonly filesTotal: number;
  readonly filesDone: number;
  /** restore --delta: of the files done, those found matching and kept, and those written anew. */
  readonly delta?: { readonly kept: number; readonly written: number };
}

/** ProgressCounts with what they mean over time: the rate and the time left, when they can be told. */
export interface ProgressFigures extends ProgressCounts {
  readonly percent: number;
  /** Bytes per second over the recent window; undefined until the window spans long enough. */
  readonly rate: number | undefined;
  /** Seconds left at that rate; undefined while the rate is unknown or zero. */
  readonly etaSeconds: number | undefined;
}

/**
 * Percent of `done` in `total`, rounded down to a tenth: 100 only once everything is done (a file that grew
 * since it was listed may carry `done` past `total`; the figure stops at 100). 0 while the total is unknown (0).
 */
export function percentOf(done: number, total: number): number {
  if (total <= 0 || done <= 0) return 0;
  if (done >= total) return 100;
  return Math.min(99.9, Math.floor((done * 1000) / total) / 10);
}

/** How far back the rate looks: long enough to smooth a large file's bursts, short enough to follow a change. */
export const RATE_WINDOW_MS = 20_000;
/** A rate measured over less than this is noise (the first file's open, a burst of small files): not shown. */
export const RATE_MIN_SPAN_MS = 2_000;

/**
 * The transfer rate over the last RATE_WINDOW_MS: the bytes done between the oldest sample still in the window
 * and the newest, over the time between them. Fed with the clock's readings, so a test drives it with its own.
 */
export class RateMeter {
  readonly #samples: { readonly at: number; readonly bytes: number }[] = [];
  readonly #windowMs: number;

  constructor(windowMs = RATE_WINDOW_MS) {
    this.#windowMs = windowMs;
  }

  /** Records that `bytes` were done at time `at` (milliseconds, never going back). */
  sample(at: number, bytes: number): void {
    const last = this.#samples.at(-1);
    if (last !== undefined && at < last.at) return;
    this.#samples.push({ at, bytes });
    // Keep one sample at or before the window's start, so the window is always spanned whole.
    while (this.#samples.length > 2 && (this.#samples[1]?.at ?? at) <= at - this.#windowMs)
      this.#samples.shift();
  }

  /** Bytes per second, or undefined while the samples span less than RATE_MIN_SPAN_MS. */
  rate(): number | undefined {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (first === undefined || last === undefined) return undefined;
    const spanMs = last.at - first.at;
    if (spanMs < RATE_MIN_SPAN_MS) return undefined;
    return Math.max(0, ((last.bytes - first.bytes) * 1000) / spanMs);
  }
}

/** Seconds to do the rest at `rate`; undefined when the rate is unknown or zero (nothing moving: no guess). */
export function etaOf(
  counts: Pick<ProgressCounts, 'bytesDone' | 'bytesTotal'>,
  rate: number | undefined,
): number | undefined {
  if (rate === undefined || rate <= 0) return undefined;
  const left = Math.max(0, counts.bytesTotal - counts.bytesDone);
  return Math.ceil(left / rate);
}

export function figuresOf(counts: ProgressCounts, rate: number | undefined): ProgressFigures {
  return {
    ...counts,
    percent: percentOf(counts.bytesDone, counts.bytesTotal),
    rate,
    etaSeconds: etaOf(counts, rate),
  };
}

/** An ETA beyond this is shown as such rather than as a number of hours that means nothing. */
const ETA_MAX_SECONDS = 100 * 3600;

/** `1:05:09`, `4:07`, `0:03`; `--:--` when unknown; `>100h` past ETA_MAX_SECONDS. */
export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '--:--';
  if (seconds >= ETA_MAX_SECONDS) return '>100h';
  const whole = Math.max(0, Math.round(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  const mmss = `${h > 0 ? String(m).padStart(2, '0') : String(m)}:${String(s).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}

/** `35.1MB/s`; `--` when unknown. */
export function formatRate(rate: number | undefined): string {
  return rate === undefined ? '--' : `${formatBytes(Math.round(rate))}/s`;
}

/** `43.2%`. */
export function formatPercent(percent: number): string {
  return `${percent.toFixed(1)}%`;
}

/** The figures in one line, for the terminal and the log: `43.2% of 2.8GB, 35.1MB/s, ETA 0:45, 120/967 files`. */
export function progressText(figures: ProgressFigures): string {
  const files =
    figures.delta === undefined
      ? `${figures.filesDone}/${figures.filesTotal} files`
      : `${figures.filesDone}/${figures.filesTotal} files checked, ${figures.delta.written} rewritten`;
  return (
    `${formatPercent(figures.percent)} of ${formatBytes(figures.bytesTotal)}, ` +
    `${formatRate(figures.rate)}, ETA ${formatEta(figures.etaSeconds)}, ${files}`
  );
}
