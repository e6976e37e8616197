// Filter that runs an async function (compress or decompress on the libuv pool) over units, a few at once, in order.
import { Transform, type TransformCallback } from 'node:stream';
import type { Splitter } from '../chunker.js';

/** Turns one unit into its output (may be empty); `index` counts units from 0, for error messages. */
export type UnitMapper = (unit: Buffer, index: number) => Promise<Buffer>;

export interface ConcurrentMapOptions {
  /** Cuts the input into units. */
  readonly splitter: Splitter;
  readonly map: UnitMapper;
  /** Units processed or held at once (>= 1). Bounds memory: about concurrency x (unit + output). */
  readonly concurrency: number;
}

interface Job {
  done: boolean;
  output: Buffer | undefined;
}

/**
 * Units start as soon as they are complete and a slot is free; their outputs leave in input order, as soon as they
 * are ready. Memory is bounded: no more input is accepted while `concurrency` units are running or waiting for an
 * earlier one, nor while the readable side is over its high-water mark (until the consumer asks for more).
 */
export class ConcurrentMapFilter extends Transform {
  readonly #splitter: Splitter;
  readonly #map: UnitMapper;
  readonly #concurrency: number;
  /** Started jobs in input order: running, or done and waiting to be pushed. */
  readonly #jobs: Job[] = [];
  /** Complete units not started yet (one large write can complete several units at once). */
  readonly #units: Buffer[] = [];
  #index = 0;
  /** The held write or flush callback, released once there is room (or, for flush, once all is pushed). */
  #held: TransformCallback | undefined;
  #flushing = false;
  #pumping = false;
  #again = false;
  /** push() said the readable buffer is full; cleared when the consumer calls _read. */
  #readableFull = false;

  constructor(options: ConcurrentMapOptions) {
    super();
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new RangeError(`invalid concurrency ${options.concurrency}`);
    }
    this.#splitter = options.splitter;
    this.#map = options.map;
    this.#concurrency = options.concurrency;
  }

  /**
   * Overrides Transform's _write (which wraps _transform) on purpose: that wrapper may park the write callback
   * until the next _read, but a _read that pushes nothing is not repeated, so with outputs pushed later
   * (asynchronously) the stream could stall. This filter does its own back-pressure instead.
   */
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let units: Buffer[];
    try {
      units = this.#splitter.write(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.#units.push(...units);
    this.#held = callback;
    this.#pump();
  }

  override _flush(callback: TransformCallback): void {
    let units: Buffer[];
    try {
      units = this.#splitter.end();
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.#units.push(...units);
    this.#flushing = true;
    this.#held = callback;
    this.#pump();
  }

  override _read(): void {
    this.#readableFull = false;
    this.#pump();
  }

  /**
   * Runs #step until nothing changes. Releasing a callback can re-enter (the next write arrives synchronously),
   * so re-entrant calls only ask for one more round instead of running nested.
   */
  #pump(): void {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        this.#step();
      } while (this.#again && !this.destroyed);
    } finally {
      this.#pumping = false;
    }
  }

  /** Emits finished outputs in order, starts waiting units, and releases the held callback when there is room. */
  #step(): void {
    while (!this.destroyed) {
      const head = this.#jobs[0];
      // Always push a ready output: pushing is what makes the stream call _read again once it has drained.
      if (head?.done === true) {
        this.#jobs.shift();
        if (head.output !== undefined && head.output.length > 0 && !this.push(head.output)) {
          this.#readableFull = true;
        }
        continue;
      }
      const unit = this.#units[0];
      if (unit !== undefined && this.#jobs.length < this.#concurrency) {
        this.#units.shift();
        this.#start(unit);
        continue;
      }
      break;
    }
    if (this.destroyed || this.#held === undefined) return;
    const idle = this.#jobs.length === 0 && this.#units.length === 0;
    const room = this.#units.length === 0 && this.#jobs.length < this.#concurrency && !this.#readableFull;
    if (this.#flushing ? idle : room) {
      const callback = this.#held;
      this.#held = undefined;
      callback();
    }
  }

  #start(unit: Buffer): void {
    const job: Job = { done: false, output: undefined };
    this.#jobs.push(job);
    const index = this.#index++;
    let promise: Promise<Buffer>;
    try {
      promise = this.#map(unit, index);
    } catch (error) {
      promise = Promise.reject(error as Error);
    }
    promise.then(
      (output) => {
        job.done = true;
        job.output = output;
        this.#pump();
      },
      (error: unknown) => {
        if (!this.destroyed) this.destroy(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }
}
