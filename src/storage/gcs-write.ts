// A write to GCS: one upload for a file up to a chunk, a resumable upload session in chunks for a larger one.
import { Writable } from 'node:stream';

import { PgStashError } from '../common/errors.js';
import type { GcsClient, GcsResponse } from './gcs-client.js';

/** Chunks of one file uploading at once: a resumable session takes its chunks in order, one at a time. */
export const GCS_CHUNKS_IN_FLIGHT = 1;
/** The buffer of the chunk being filled starts at this size and doubles up to the chunk size. */
const FIRST_BUFFER = 64 * 1024;

export interface GcsWriteTarget {
  readonly client: GcsClient;
  readonly bucket: string;
  /** The object's name. */
  readonly name: string;
  /** For messages. */
  readonly url: string;
  readonly chunkSize: number;
  readonly ifAbsent: boolean;
  readonly signal: AbortSignal | undefined;
  /** Runs one request with the driver's retries and error translation; `signal` cancels it and its retries. */
  readonly request: (
    action: string,
    send: (signal: AbortSignal | undefined) => Promise<GcsResponse>,
    signal: AbortSignal | undefined,
  ) => Promise<GcsResponse>;
}

/**
 * Collects the written bytes into chunks of `chunkSize`. Nothing is visible at the name until `_final` commits:
 * a file of at most one chunk goes up in one request there; a larger one opens a resumable upload session at its
 * first full chunk and sends each chunk (retried on its own) while the next fills, the last one finishing the
 * object in `_final`. Memory: the chunk filling and the chunk in flight, 2 x chunkSize per write, reused from chunk
 * to chunk. A destroy before the commit, or a failure, cancels the session (DELETE), so no object stays; a process
 * killed mid-upload leaves an unfinished session, which is no object and which the service drops after a week.
 */
export class GcsWriteStream extends Writable {
  readonly #target: GcsWriteTarget;
  /** Cancels the requests of this write when it is destroyed (and follows the caller's signal). */
  readonly #abort = new AbortController();
  #buffer: Buffer = Buffer.alloc(0);
  #filled = 0;
  /** The buffer of the chunk last sent, reused for the next. */
  #spare: Buffer | undefined;
  #session: Promise<string> | undefined;
  /** Bytes the session holds (sent and acknowledged, or being sent). */
  #offset = 0;
  #inFlight: Promise<void> | undefined;
  #failure: unknown;
  #committed = false;

  constructor(target: GcsWriteTarget) {
    super({ highWaterMark: 0 });
    this.#target = target;
    const outer = target.signal;
    if (outer !== undefined) {
      if (outer.aborted) this.#abort.abort(outer.reason);
      else outer.addEventListener('abort', () => this.#abort.abort(outer.reason), { once: true });
    }
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

  /** Copies `chunk` (the caller may reuse it once the write callback runs) into chunks, sending full ones. */
  async #accept(chunk: Buffer): Promise<void> {
    const { chunkSize } = this.#target;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#filled === this.#buffer.length) {
        if (this.#filled === chunkSize) {
          // Sent only now that more data follows: the last chunk, however short, always finishes the object.
          await this.#sendChunk();
          continue;
        }
        // Grow the buffer (small files never hold a whole chunk's worth); once a chunk has gone, a whole one.
        const sent = this.#session !== undefined;
        const size = sent
          ? chunkSize
          : Math.min(chunkSize, Math.max(FIRST_BUFFER, this.#buffer.length * 2, chunk.length - offset));
        const grown = (sent ? this.#takeSpare() : undefined) ?? Buffer.allocUnsafe(size);
        this.#buffer.copy(grown, 0, 0, this.#filled);
        this.#buffer = grown;
      }
      const copied = chunk.copy(this.#buffer, this.#filled, offset);
      this.#filled += copied;
      offset += copied;
    }
  }

  #takeSpare(): Buffer | undefined {
    const spare = this.#spare;
    this.#spare = undefined;
    return spare;
  }

  /** Hands the filled chunk to the session, once the chunk before it is acknowledged. */
  async #sendChunk(): Promise<void> {
    await this.#inFlight;
    if (this.#failure !== undefined) throw this.#failure;
    const body = this.#buffer.subarray(0, this.#filled);
    this.#buffer = Buffer.alloc(0);
    this.#filled = 0;
    this.#session ??= this.#openSession();
    const upload = this.#putChunk(body, false).then(
      () => {
        if (body.buffer.byteLength === this.#target.chunkSize)
          this.#spare = Buffer.from(body.buffer, body.byteOffset, this.#target.chunkSize);
      },
      (error: unknown) => {
        this.#failure ??= error;
      },
    );
    this.#inFlight = upload;
  }

  /** The query of an upload: the object's name and, for ifAbsent, generation 0 (no object may exist). */
  #query(uploadType: 'media' | 'resumable'): string {
    const { bucket, name, ifAbsent } = this.#target;
    const condition = ifAbsent ? '&ifGenerationMatch=0' : '';
    return `/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=${uploadType}&name=${encodeURIComponent(name)}${condition}`;
  }

  async #openSession(): Promise<string> {
    const response = await this.#target.request(
      'write',
      (signal) =>
        this.#target.client.send({
          method: 'POST',
          url: this.#query('resumable'),
          headers: {
            'content-type': 'application/json',
            'x-upload-content-type': 'application/octet-stream',
          },
          body: '{}',
          signal,
        }),
      this.#abort.signal,
    );
    const location = response.headers.location;
    if (location === undefined)
      throw new PgStashError('service', `unable to write '${this.#target.url}': no upload session returned`);
    return location;
  }

  /**
   * Sends `body` as the session's next bytes; `last` finishes the object (its size is then known). The service
   * answers 308 with the bytes it holds: what it did not take yet goes again, from there.
   */
  async #putChunk(body: Buffer, last: boolean): Promise<void> {
    const session = await (this.#session as Promise<string>);
    const start = this.#offset;
    const end = start + body.length;
    this.#offset = end;
    let from = start;
    for (;;) {
      const range = from === end ? `bytes */${end}` : `bytes ${from}-${end - 1}/${last ? String(end) : '*'}`;
      const piece = body.subarray(from - start);
      const response = await this.#target.request(
        'write',
        (signal) =>
          this.#target.client.send({
            method: 'PUT',
            url: session,
            headers: { 'content-range': range },
            body: piece,
            accept: [308],
            signal,
          }),
        this.#abort.signal,
      );
      if (response.status !== 308) {
        if (!last)
          throw new PgStashError('service', `unable to write '${this.#target.url}': finished before its end`);
        return;
      }
      const held = /^bytes=0-([0-9]+)$/.exec(String(response.headers.range ?? ''));
      const persisted = held === null ? 0 : Number(held[1]) + 1;
      if (persisted < from || persisted > end) {
        throw new PgStashError(
          'service',
          `unable to write '${this.#target.url}': the service holds ${persisted} bytes, ${from} were sent`,
        );
      }
      if (!last && persisted === end) return;
      from = persisted;
    }
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
    const body = this.#buffer.subarray(0, this.#filled);
    if (this.#session === undefined) {
      await this.#target.request(
        'write',
        (signal) =>
          this.#target.client.send({
            method: 'POST',
            url: this.#query('media'),
            headers: { 'content-type': 'application/octet-stream' },
            body,
            signal,
          }),
        this.#abort.signal,
      );
      return;
    }
    await this.#inFlight;
    if (this.#failure !== undefined) throw this.#failure;
    await this.#putChunk(body, true);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#buffer = Buffer.alloc(0);
    this.#spare = undefined;
    if (this.#committed) {
      callback(error);
      return;
    }
    // Stop the requests in flight (a single upload too: destroyed before 'finish' means nothing is written, but for
    // a request the service had already finished), then cancel the session, so the service drops what it holds.
    this.#abort.abort(error ?? new Error('write destroyed'));
    const session = this.#session;
    if (session === undefined) {
      callback(error);
      return;
    }
    this.#session = undefined;
    void (async () => {
      await this.#inFlight?.catch(() => undefined);
      const uri = await session.catch(() => undefined);
      if (uri !== undefined) {
        // Not cancellable by the caller's signal. GCS answers a cancelled session with 499.
        await this.#target
          .request(
            'cancel the upload of',
            (signal) =>
              this.#target.client.send({ method: 'DELETE', url: uri, accept: [499, 404, 410], signal }),
            undefined,
          )
          .catch(() => undefined);
      }
    })().then(() => callback(error));
  }
}
