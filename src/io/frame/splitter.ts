// Splits a compressed byte stream into whole frames (lz4, zstd) so each can be decompressed on its own.
import { ByteQueue, type Splitter } from '../chunker.js';
import { fail } from '../../common/errors.js';

/** Where a frame ends. */
export interface FrameSpan {
  /** Total bytes of the frame, header to trailer. */
  readonly length: number;
  /** A skippable (metadata) frame: dropped, never decompressed. */
  readonly skippable: boolean;
}

/**
 * Finds the length of the data frame at the start of a queue by reading only its headers. It keeps its progress
 * between calls (so each header is read once however the bytes arrive) and starts afresh after returning a
 * length. Skippable frames never reach it: the splitter handles them, the same way for every format.
 */
export interface FrameScanner {
  /** Format name for messages: 'lz4', 'zst'. */
  readonly format: string;
  /**
   * The total length of the frame at the start of `queue` once it is known (its last bytes may not have arrived
   * yet), otherwise undefined.
   * `streamOffset` (the frame's offset in the whole stream) is for error messages only.
   * Throws PgStashError('format') on bytes that cannot be such a frame.
   */
  scan(queue: ByteQueue, streamOffset: number): number | undefined;
}

/**
 * A Splitter yielding one unit per data frame. Buffers at most one data frame; skippable frames are discarded as
 * their bytes arrive, never buffered.
 */
export class FrameSplitter implements Splitter {
  readonly #queue = new ByteQueue();
  readonly #scanner: FrameScanner;
  /** The frame being received, once its length is known. */
  #span: FrameSpan | undefined;
  /** Bytes of a skippable frame still to discard, and where that frame started. */
  #skip = 0;
  #skipStart = 0;
  /** Stream offset of the first queued byte (for messages). */
  #offset = 0;
  #frames = 0;

  constructor(scanner: FrameScanner) {
    this.#scanner = scanner;
  }

  write(chunk: Buffer): Buffer[] {
    this.#queue.push(chunk);
    const units: Buffer[] = [];
    for (;;) {
      if (this.#skip > 0) {
        const skipped = Math.min(this.#skip, this.#queue.length);
        this.#queue.discard(skipped);
        this.#skip -= skipped;
        this.#offset += skipped;
        if (this.#skip > 0) break;
      }
      this.#span ??= this.#nextSpan();
      const span = this.#span;
      if (span === undefined) break;
      if (span.skippable) {
        this.#skip = span.length;
        this.#skipStart = this.#offset;
      } else {
        if (this.#queue.length < span.length) break;
        units.push(this.#queue.take(span.length));
        this.#offset += span.length;
      }
      this.#span = undefined;
      this.#frames++;
    }
    return units;
  }

  /** The span of the frame starting the queue, once its length is known: a skippable frame, or a data frame. */
  #nextSpan(): FrameSpan | undefined {
    // A frame in progress starts with its format's magic, never a skippable one: checking again is harmless.
    if (this.#queue.length < 4) return undefined;
    if (isSkippableMagic(this.#queue.peek(0, 4).readUInt32LE(0))) {
      if (this.#queue.length < SKIPPABLE_HEADER_SIZE) return undefined;
      return { length: SKIPPABLE_HEADER_SIZE + this.#queue.peek(4, 4).readUInt32LE(0), skippable: true };
    }
    const length = this.#scanner.scan(this.#queue, this.#offset);
    return length === undefined ? undefined : { length, skippable: false };
  }

  end(): Buffer[] {
    const format = this.#scanner.format;
    if (this.#queue.length > 0 || this.#skip > 0 || this.#span !== undefined) {
      const start = this.#skip > 0 ? this.#skipStart : this.#offset;
      fail('format', `invalid ${format} data: truncated frame at offset ${start} (the data ends inside it)`);
    }
    if (this.#frames === 0) fail('format', `invalid ${format} data: no frame found (the input is empty)`);
    return [];
  }
}

/** Skippable frames (shared by lz4 and zstd): magic 0x184D2A50..0x184D2A5F, 4-byte size, then that many bytes. */
export function isSkippableMagic(magic: number): boolean {
  return (magic & 0xfffffff0) >>> 0 === 0x184d2a50;
}

/** Header bytes of a skippable frame: magic and size. */
export const SKIPPABLE_HEADER_SIZE = 8;

/** A magic number as it is usually written, for messages: 0x184D2204. */
export function formatMagic(magic: number): string {
  return `0x${magic.toString(16).toUpperCase().padStart(8, '0')}`;
}
