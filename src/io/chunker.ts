// Cutting byte streams into pieces: the chunk loop's chunk size, a byte queue, fixed-size splitting, whole chunks.

/**
 * Raw bytes per compression frame and per encryption chunk. Every stage works on pieces of at most this size,
 * so memory stays bounded whatever the file size.
 */
export const CHUNK_SIZE = 1024 * 1024;

const EMPTY = Buffer.alloc(0);

/**
 * Bytes received but not yet consumed, kept as the list of buffers they arrived in (no copying on append).
 * Small reads (`peek`) may span buffers; `take` copies only when the requested bytes span buffers. Removing from
 * the front and peeking forward are cheap even with many tiny buffers (a read cursor is kept).
 */
export class ByteQueue {
  #buffers: Buffer[] = [];
  /** Index of the first live buffer in #buffers (consumed ones before it are dropped in batches). */
  #first = 0;
  #length = 0;
  /** The buffer where the last peek started, and the queue offset at which that buffer begins. */
  #cursorIndex = 0;
  #cursorStart = 0;

  /** Number of bytes queued. */
  get length(): number {
    return this.#length;
  }

  push(chunk: Buffer): void {
    if (chunk.length > 0) {
      this.#buffers.push(chunk);
      this.#length += chunk.length;
    }
  }

  /** A copy (or view, when within one buffer) of `size` bytes at `offset`, which must be available. */
  peek(offset: number, size: number): Buffer {
    if (offset < 0 || size < 0 || offset + size > this.#length) {
      throw new RangeError(`peek(${offset}, ${size}) is outside the ${this.#length} queued bytes`);
    }
    if (size === 0) return Buffer.alloc(0);
    let index = this.#cursorIndex;
    let start = this.#cursorStart;
    if (offset < start) {
      index = this.#first;
      start = 0;
    }
    for (;;) {
      const length = (this.#buffers[index] as Buffer).length;
      if (offset < start + length) break;
      start += length;
      index++;
    }
    this.#cursorIndex = index;
    this.#cursorStart = start;
    let skip = offset - start;
    const first = this.#buffers[index] as Buffer;
    if (skip + size <= first.length) return first.subarray(skip, skip + size);
    const result = Buffer.allocUnsafe(size);
    let written = 0;
    for (; written < size; index++) {
      const buffer = this.#buffers[index] as Buffer;
      written += buffer.copy(result, written, skip, Math.min(buffer.length, skip + size - written));
      skip = 0;
    }
    return result;
  }

  /** Removes and returns the first `size` bytes, which must be available. */
  take(size: number): Buffer {
    if (size < 0 || size > this.#length) {
      throw new RangeError(`take(${size}) is outside the ${this.#length} queued bytes`);
    }
    const result = this.peek(0, size);
    this.discard(size);
    return result;
  }

  /** Drops the first `size` bytes, which must be available. */
  discard(size: number): void {
    if (size < 0 || size > this.#length) {
      throw new RangeError(`discard(${size}) is outside the ${this.#length} queued bytes`);
    }
    this.#length -= size;
    let remaining = size;
    while (remaining > 0) {
      const first = this.#buffers[this.#first] as Buffer;
      if (first.length <= remaining) {
        this.#buffers[this.#first++] = EMPTY; // drop the reference now: memory must not wait for compaction
        remaining -= first.length;
      } else {
        this.#buffers[this.#first] = first.subarray(remaining);
        remaining = 0;
      }
    }
    if (this.#first > 64 && this.#first * 2 > this.#buffers.length) {
      this.#buffers = this.#buffers.slice(this.#first);
      this.#first = 0;
    }
    this.#cursorIndex = this.#first;
    this.#cursorStart = 0;
  }
}

/** Cuts a byte stream into units (frames, fixed-size chunks) for a loop that processes whole units. */
export interface Splitter {
  /** Adds bytes; returns the units now complete, in order. Throws PgStashError on invalid input. */
  write(chunk: Buffer): Buffer[];
  /** The input has ended: returns the remaining units, or throws PgStashError when the input is incomplete. */
  end(): Buffer[];
}

/**
 * Splits into units of exactly `size` bytes, the last one shorter. With `emptyUnit`, an empty input still yields
 * one empty unit (a compressor must still write one frame, or the result would not be a valid file).
 */
export class FixedSizeSplitter implements Splitter {
  readonly #queue = new ByteQueue();
  readonly #size: number;
  readonly #emptyUnit: boolean;
  #units = 0;

  constructor(size: number, options?: { emptyUnit?: boolean }) {
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`invalid unit size ${size}`);
    this.#size = size;
    this.#emptyUnit = options?.emptyUnit ?? false;
  }

  write(chunk: Buffer): Buffer[] {
    this.#queue.push(chunk);
    const units: Buffer[] = [];
    while (this.#queue.length >= this.#size) units.push(this.#queue.take(this.#size));
    this.#units += units.length;
    return units;
  }

  end(): Buffer[] {
    if (this.#queue.length > 0) return [this.#queue.take(this.#queue.length)];
    return this.#units === 0 && this.#emptyUnit ? [Buffer.alloc(0)] : [];
  }
}

/** `data` as the chunk loop takes a file: pieces of CHUNK_SIZE bytes (views, not copies), the last one shorter. */
export function* chunksOf(data: Buffer): Generator<Buffer> {
  for (let offset = 0; offset < data.length; offset += CHUNK_SIZE)
    yield data.subarray(offset, offset + CHUNK_SIZE);
}

/**
 * Bytes arriving in pieces of any size (a file decoded from the repository, a stream) re-cut into the chunks the
 * chunk loop takes: CHUNK_SIZE bytes each, the last one shorter. A chunk within one piece is a view of it.
 */
export async function* wholeChunks(pieces: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<Buffer> {
  const splitter = new FixedSizeSplitter(CHUNK_SIZE);
  for await (const piece of pieces) yield* splitter.write(piece);
  yield* splitter.end();
}
