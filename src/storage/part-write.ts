// A write to an object store in parts: the bytes cut into parts of a fixed size, several uploading at once,
// within a fixed memory budget; the store's requests come from a PartUpload.
import { Writable } from 'node:stream';

import { PgStashError } from '../common/errors.js';

/** The buffer of the first part starts at this size and doubles up to the part size (small files stay small). */
const FIRST_BUFFER = 64 * 1024;

/** The requests of one upload; each one retried and translated by the driver. `signal` cancels it. */
export interface PartUpload {
  /** The whole file in one request, when it fits in one part (the commit). */
  putWhole(body: Buffer, signal: AbortSignal): Promise<void>;
  /** Part `number` (from 1); parts may be sent in any order and at once. */
  putPart(number: number, body: Buffer, signal: AbortSignal): Promise<void>;
  /** Makes parts 1..`count` the file (the commit). */
  complete(count: number, signal: AbortSignal): Promise<void>;
  /** Drops what was sent of an upload that will not complete (best effort, after the parts in flight ended). */
  abandon(): Promise<void>;
}

export interface PartWriteOptions {
  readonly partSize: number;
  readonly inFlight: number;
  readonly maxCount: number;
  /** For messages. */
  readonly url: string;
  /** The option that sets the part size, for the hint when a file needs more than maxCount parts. */
  readonly partSizeOption: string;
  readonly signal: AbortSignal | undefined;
}

/**
 * Collects the written bytes into parts of `partSize`. Nothing is visible until `_final` commits: a file of at
 * most one part goes up whole there; a larger one sends each full part as soon as it is filled, up to `inFlight`
 * at once (each retried on its own by the driver) while the next fills, and completes in `_final`. Memory: the
 * part filling and the parts in flight, at most partSize x (inFlight + 1) per write, buffers reused from part to
 * part. A destroy before the commit, or a failure, cancels the requests in flight and abandons the upload.
 */
export class PartWriteStream extends Writable {
  readonly #upload: PartUpload;
  readonly #options: PartWriteOptions;
  /** Cancels the requests of this write when it is destroyed (and follows the caller's signal). */
  readonly #abort = new AbortController();
  #buffer: Buffer = Buffer.alloc(0);
  #filled = 0;
  /** Whole-part buffers of finished parts, reused for the next ones. */
  readonly #spare: Buffer[] = [];
  #nextPart = 1;
  readonly #inFlight = new Set<Promise<void>>();
  #failure: unknown;
  #committed = false;

  constructor(upload: PartUpload, options: PartWriteOptions) {
    super({ highWaterMark: 0 });
    this.#upload = upload;
    this.#options = options;
    const outer = options.signal;
    if (outer !== undefined) {
      if (outer.aborted) this.#abort.abort(outer.reason);
      else outer.addEventListener('abort', () => this.#abort.abort(outer.reason), { once: true });
    }
  }

  /** Whether any part was sent (so that the upload has something to abandon). */
  get #started(): boolean {
    return this.#nextPart > 1;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#accept(chunk).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (error?: Error | null) => void,
  ): void {
    (async () => {
      for (const { chunk } of chunks) await this.#accept(chunk);
    })().then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  /** Copies `chunk` (the caller may reuse it once the write callback runs) into parts, sending full ones. */
  async #accept(chunk: Buffer): Promise<void> {
    const { partSize } = this.#options;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#filled === this.#buffer.length) {
        if (this.#filled === partSize) {
          await this.#sendPart();
          continue;
        }
        // Grow the part buffer; once a part has gone, take a whole part's buffer, a finished part's if any.
        const spare = this.#started ? this.#spare.pop() : undefined;
        const size = this.#started
          ? partSize
          : Math.min(partSize, Math.max(FIRST_BUFFER, this.#buffer.length * 2, chunk.length - offset));
        const grown = spare ?? Buffer.allocUnsafe(size);
        this.#buffer.copy(grown, 0, 0, this.#filled);
        this.#buffer = grown;
      }
      const copied = chunk.copy(this.#buffer, this.#filled, offset);
      this.#filled += copied;
      offset += copied;
    }
  }

  /** Hands the filled part to an upload, waiting first while `inFlight` parts are under way. */
  async #sendPart(): Promise<void> {
    const { partSize, inFlight, maxCount } = this.#options;
    while (this.#inFlight.size >= inFlight) await Promise.race(this.#inFlight);
    if (this.#failure !== undefined) throw this.#failure;
    const body = this.#buffer.subarray(0, this.#filled);
    this.#buffer = Buffer.alloc(0);
    this.#filled = 0;
    const number = this.#nextPart++;
    if (number > maxCount) {
      throw new PgStashError(
        'fileWrite',
        `unable to write '${this.#options.url}': larger than ${maxCount} parts`,
        { hint: `raise ${this.#options.partSizeOption}` },
      );
    }
    const upload = this.#upload.putPart(number, body, this.#abort.signal).then(
      // Sent and answered: the buffer is free for the next part (a steady footprint, not one that waits for the
      // garbage collector).
      () => {
        if (body.buffer.byteLength === partSize && this.#spare.length < inFlight)
          this.#spare.push(Buffer.from(body.buffer, body.byteOffset, partSize));
      },
      (error: unknown) => {
        this.#failure ??= error;
      },
    );
    this.#inFlight.add(upload);
    void upload.finally(() => this.#inFlight.delete(upload));
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#commit().then(
      () => {
        this.#committed = true;
        callback();
      },
      (error: unknown) => callback(error as Error),
    );
  }

  async #commit(): Promise<void> {
    if (!this.#started) {
      await this.#upload.putWhole(this.#buffer.subarray(0, this.#filled), this.#abort.signal);
      return;
    }
    if (this.#filled > 0) await this.#sendPart();
    await Promise.all(this.#inFlight);
    if (this.#failure !== undefined) throw this.#failure;
    await this.#upload.complete(this.#nextPart - 1, this.#abort.signal);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#buffer = Buffer.alloc(0);
    this.#spare.length = 0;
    if (this.#committed) {
      callback(error);
      return;
    }
    // Stop the requests in flight (a whole-file request too: destroyed before 'finish' means nothing is written,
    // but for a request the service had already finished), then abandon the upload.
    this.#abort.abort(error ?? new Error('write destroyed'));
    if (!this.#started) {
      callback(error);
      return;
    }
    void (async () => {
      await Promise.allSettled(this.#inFlight);
      await this.#upload.abandon().catch(() => undefined);
    })().then(() => callback(error));
  }
}
