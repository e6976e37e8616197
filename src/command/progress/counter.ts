// The bytes a backup or restore has done, counted by its worker threads and the main thread in shared memory.
//
// Why shared memory rather than messages: a worker adds to the count after each 1 MiB chunk, and the main thread
// reads it only when it reports (about once a second); an atomic add costs nothing beside the chunk, where a
// message each way would cost a turn of both threads' loops, and a large file would otherwise report nothing
// until it ends.
import type { ChunkStage } from '../../io/stage.js';

const BYTES = 0;

export class ProgressCounter {
  readonly buffer: SharedArrayBuffer;
  readonly #slots: BigInt64Array;

  /** A new counter at 0, or (in a worker thread) the one whose `buffer` the main thread passed in workerData. */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT)) {
    this.buffer = buffer;
    this.#slots = new BigInt64Array(buffer);
  }

  add(bytes: number): void {
    if (bytes > 0) Atomics.add(this.#slots, BYTES, BigInt(bytes));
  }

  get bytes(): number {
    return Number(Atomics.load(this.#slots, BYTES));
  }

  /** A stage of the chunk loop adding each chunk's bytes as it passes. */
  stage(): ChunkStage {
    return { update: (chunk) => this.add(chunk.length) };
  }
}

/** The counter of a worker thread, from the buffer its workerData carries (none: counting is off). */
export function workerCounter(buffer: SharedArrayBuffer | undefined): ProgressCounter | undefined {
  return buffer === undefined ? undefined : new ProgressCounter(buffer);
}
