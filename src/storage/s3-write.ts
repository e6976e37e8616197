// A write to S3: one PutObject for a file up to a part, a multipart upload for a larger one, in bounded memory.
import { Writable } from 'node:stream';

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

import { PgStashError } from '../common/errors.js';
import { abortable } from './s3-client.js';

/** S3's limits on multipart uploads. */
export const S3_PART_LIMITS = { minSize: 5 * 1024 * 1024, maxSize: 5 * 1024 * 1024 * 1024, maxCount: 10_000 };
/** Parts of one file uploading at once. */
export const PARTS_IN_FLIGHT = 4;
/** The buffer of the part being filled starts at this size and doubles up to the part size. */
const FIRST_BUFFER = 64 * 1024;

export interface S3WriteTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** For messages. */
  readonly url: string;
  readonly partSize: number;
  readonly ifAbsent: boolean;
  readonly kmsKeyId: string | undefined;
  readonly signal: AbortSignal | undefined;
  /** Runs one request with the driver's retries and error translation; `signal` cancels it and its retries. */
  readonly request: <T>(
    action: string,
    send: (signal: AbortSignal | undefined) => Promise<T>,
    signal: AbortSignal | undefined,
  ) => Promise<T>;
}

/**
 * Collects the written bytes into parts of `partSize`. Nothing is visible at the key until `_final` commits:
 * a file of at most one part goes up in one PutObject there; a larger one starts a multipart upload at its first
 * full part, uploads up to PARTS_IN_FLIGHT parts at once (each retried on its own) while the next fills, and
 * completes it in `_final`. Memory: the part filling and the parts in flight, at most partSize x 5 per write
 * (reused from part to part), plus TLS's encrypted copies of the parts being sent (45 MiB in all at 5 MiB parts).
 * A destroy before the commit, or a failure, aborts the multipart upload, so no object and no billed parts stay
 * (only a process killed mid-upload leaves parts: the bucket's AbortIncompleteMultipartUpload rule removes them).
 */
export class S3WriteStream extends Writable {
  readonly #target: S3WriteTarget;
  /** Cancels the requests of this write when it is destroyed (and follows the caller's signal). */
  readonly #abort = new AbortController();
  #buffer: Buffer = Buffer.alloc(0);
  #filled = 0;
  /** Whole-part buffers of finished parts, reused for the next ones. */
  readonly #spare: Buffer[] = [];
  #uploadId: Promise<string> | undefined;
  /** CreateMultipartUpload was sent more than once: an earlier one may have started an upload whose answer was lost. */
  #createRepeated = false;
  #nextPart = 1;
  readonly #parts: { PartNumber: number; ETag: string }[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #failure: unknown;
  #committed = false;

  constructor(target: S3WriteTarget) {
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

  /** Copies `chunk` (the caller may reuse it once the write callback runs) into parts, sending full ones. */
  async #accept(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#failure !== undefined) throw this.#failure;
      const partSize = this.#target.partSize;
      if (this.#filled === this.#buffer.length) {
        if (this.#filled === partSize) {
          await this.#sendPart();
          continue;
        }
        // Grow the part buffer (small files never hold a whole part's worth); once a part has gone, take a whole
        // part's buffer, one a finished part gave back when there is one.
        const spare = this.#nextPart > 1 ? this.#spare.pop() : undefined;
        const size =
          this.#nextPart > 1
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

  /** Hands the filled part to an upload, waiting first while PARTS_IN_FLIGHT are under way. */
  async #sendPart(): Promise<void> {
    while (this.#inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(this.#inFlight);
    if (this.#failure !== undefined) throw this.#failure;
    const body = this.#buffer.subarray(0, this.#filled);
    this.#buffer = Buffer.alloc(0);
    this.#filled = 0;
    const partNumber = this.#nextPart++;
    if (partNumber > S3_PART_LIMITS.maxCount) {
      throw new PgStashError(
        'fileWrite',
        `unable to write '${this.#target.url}': larger than ${S3_PART_LIMITS.maxCount} parts`,
        { hint: 'raise repo-storage-upload-chunk-size' },
      );
    }
    this.#uploadId ??= this.#createUpload();
    const upload = this.#uploadPart(partNumber, body).then(
      // Sent and answered: the buffer is free for the next part (no garbage per part: a bounded, steady
      // footprint however large the file, not one that waits for the garbage collector).
      () => {
        if (body.buffer.byteLength === this.#target.partSize && this.#spare.length < PARTS_IN_FLIGHT)
          this.#spare.push(Buffer.from(body.buffer, body.byteOffset, this.#target.partSize));
      },
      (error: unknown) => {
        this.#failure ??= error;
      },
    );
    this.#inFlight.add(upload);
    void upload.finally(() => this.#inFlight.delete(upload));
  }

  #createUpload(): Promise<string> {
    const { client, bucket, key } = this.#target;
    let sent = 0;
    const created = this.#target.request(
      'write',
      (signal) => {
        if (++sent > 1) this.#createRepeated = true;
        return client.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...this.#encryption() }),
          abortable(signal),
        );
      },
      this.#abort.signal,
    );
    return created.then((result) => {
      if (result.UploadId === undefined)
        throw new PgStashError('service', `unable to write '${this.#target.url}': no upload id returned`);
      return result.UploadId;
    });
  }

  async #uploadPart(partNumber: number, body: Buffer): Promise<void> {
    const uploadId = await (this.#uploadId as Promise<string>);
    const { client, bucket, key } = this.#target;
    const result = await this.#target.request(
      'write',
      (signal) =>
        client.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body,
          }),
          abortable(signal),
        ),
      this.#abort.signal,
    );
    if (result.ETag === undefined)
      throw new PgStashError(
        'service',
        `unable to write '${this.#target.url}': part ${partNumber} has no ETag`,
      );
    this.#parts.push({ PartNumber: partNumber, ETag: result.ETag });
  }

  #encryption(): { ServerSideEncryption?: 'aws:kms'; SSEKMSKeyId?: string } {
    const id = this.#target.kmsKeyId;
    return id === undefined ? {} : { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: id };
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
    const { client, bucket, key, ifAbsent } = this.#target;
    const condition = ifAbsent ? { IfNoneMatch: '*' } : {};
    if (this.#uploadId === undefined) {
      const body = this.#buffer.subarray(0, this.#filled);
      await this.#target.request(
        'write',
        (signal) =>
          client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: body,
              ...condition,
              ...this.#encryption(),
            }),
            abortable(signal),
          ),
        this.#abort.signal,
      );
      return;
    }
    if (this.#filled > 0) await this.#sendPart();
    await Promise.all(this.#inFlight);
    if (this.#failure !== undefined) throw this.#failure;
    const uploadId = await this.#uploadId;
    const parts = [...this.#parts].sort((a, b) => a.PartNumber - b.PartNumber);
    await this.#target.request(
      'write',
      (signal) =>
        client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
            ...condition,
          }),
          abortable(signal),
        ),
      this.#abort.signal,
    );
    if (this.#createRepeated) await this.#abortStrayUploads(uploadId);
  }

  /**
   * Aborts the other multipart uploads of this key: after a CreateMultipartUpload whose answer was lost (a reset,
   * a timeout) and was sent again, the service may hold an upload nobody will complete, billed until the bucket's
   * lifecycle rule removes it. One writer writes a key at a time (the stanza lock, a WAL file's content-named key),
   * so another upload of the key is such a stray. Best effort: the write itself has succeeded or failed already.
   */
  async #abortStrayUploads(ours: string | undefined): Promise<void> {
    const { client, bucket, key } = this.#target;
    try {
      const listed = await this.#target.request(
        'list the uploads of',
        (signal) =>
          client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }), abortable(signal)),
        undefined,
      );
      for (const upload of listed.Uploads ?? []) {
        if (upload.Key !== key || upload.UploadId === undefined || upload.UploadId === ours) continue;
        const id = upload.UploadId;
        await this.#target.request(
          'abort the upload of',
          (signal) =>
            client.send(
              new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }),
              abortable(signal),
            ),
          undefined,
        );
      }
    } catch {
      // Left to the bucket's AbortIncompleteMultipartUpload rule, as after a kill.
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#buffer = Buffer.alloc(0);
    if (this.#committed) {
      callback(error);
      return;
    }
    // Stop the requests in flight (a single PutObject too: destroyed before 'finish' means nothing is written, but
    // for a request the service had already finished), then abort the upload, so that the service drops every part.
    this.#abort.abort(error ?? new Error('write destroyed'));
    if (this.#uploadId === undefined) {
      callback(error);
      return;
    }
    const uploadId = this.#uploadId;
    this.#uploadId = undefined;
    void (async () => {
      await Promise.allSettled(this.#inFlight);
      const id = await uploadId.catch(() => undefined);
      if (id !== undefined) {
        const { client, bucket, key } = this.#target;
        // Not cancellable by the caller's signal: an abandoned upload would stay billed.
        await this.#target
          .request(
            'abort the upload of',
            (signal) =>
              client.send(
                new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }),
                abortable(signal),
              ),
            undefined,
          )
          .catch(() => undefined);
      }
      if (this.#createRepeated) await this.#abortStrayUploads(id);
    })().then(() => callback(error));
  }
}
