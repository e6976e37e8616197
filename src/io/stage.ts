// Stages of the chunk loop: steps that see every chunk of a file, in order, and measure it without changing it.
import { createHash } from 'node:crypto';
import { fail } from '../common/errors.js';

/**
 * One step of the chunk loop (io/encode.ts on the way in, Repository.getChunks on the way out). It sees each
 * chunk in order and keeps what it measures (a digest, a size, invalid pages; a block map or a bundle offset
 * next) for the caller to read once the loop is done. It must neither change a chunk nor keep a reference to it:
 * the buffer is refilled once the loop is through with it.
 */
export interface ChunkStage {
  update(chunk: Buffer): void;
}

/** The SHA-256 and size of the bytes seen: what a manifest or a WAL file name records of a file. */
export class ContentDigest implements ChunkStage {
  readonly #hash = createHash('sha256');
  #size = 0;
  #digest: string | undefined;

  update(chunk: Buffer): void {
    if (this.#digest !== undefined) fail('assert', 'content digest: data after the digest was taken');
    this.#hash.update(chunk);
    this.#size += chunk.length;
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#size;
  }

  /** The hex SHA-256 of everything seen; after the last chunk. */
  digest(): string {
    this.#digest ??= this.#hash.digest('hex');
    return this.#digest;
  }
}

/** Counts the bytes seen (a repository file's stored size). */
export class ByteCount implements ChunkStage {
  #size = 0;

  update(chunk: Buffer): void {
    this.#size += chunk.length;
  }

  get size(): number {
    return this.#size;
  }
}
