// Reads a large file from start to end with direct I/O (O_DIRECT) when the filesystem allows, a few reads in flight.
//
// Why: restore --delta reads every file in place to hash it, most of them hundreds of megabytes it will not read
// again. Through the page cache each page is allocated, filled, then copied to the reader: profiled on the pgbench
// table (650 MiB) on the 2-core VM we benchmark on, that copy (_copy_to_iter) cost more CPU than SHA-256 itself
// (53% of the delta restore's samples against 19%). Direct reads land in our buffers straight from the disk, and
// leave the page cache to the server that starts next (as storage/direct-file.ts does for writes).
import { constants, openSync, read } from 'node:fs';
import { DIRECT_WRITE_SIZE } from './direct-file.js';
import { errnoOf } from '../common/errors.js';

/** The size of each read, a multiple of direct-file.ts's DIRECT_ALIGNMENT, so that every read starts aligned. */
export const DIRECT_READ_SIZE = DIRECT_WRITE_SIZE;

/** Reads kept in flight: the disk streams while the reader works on the chunk before. */
const READS_IN_FLIGHT = 4;

// Node's type declarations leave out WebAssembly (a browser global in TypeScript's lib), which Node has.
declare const WebAssembly: { Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer } };

/**
 * Sets of read buffers no reader uses, kept for the next file. Their memory comes from WebAssembly, which starts on
 * a page boundary, as direct I/O requires (see direct-file.ts).
 */
const spareBuffers: Buffer[][] = [];

function takeBuffers(): Buffer[] {
  const spare = spareBuffers.pop();
  if (spare !== undefined) return spare;
  const memory = new WebAssembly.Memory({ initial: (READS_IN_FLIGHT * DIRECT_READ_SIZE) / 65536 });
  const all = Buffer.from(memory.buffer);
  return Array.from({ length: READS_IN_FLIGHT }, (_, index) =>
    all.subarray(index * DIRECT_READ_SIZE, (index + 1) * DIRECT_READ_SIZE),
  );
}

/**
 * Opens `path` for reading with O_DIRECT added to `flags`, or without it where the filesystem refuses it at the
 * open (tmpfs: EINVAL). A filesystem that takes the flag but refuses the reads fails the first read with EINVAL:
 * the caller opens again with `direct: false`.
 */
export function openForDirectRead(
  path: string,
  flags: number,
  direct = true,
): { fd: number; direct: boolean } {
  if (direct && constants.O_DIRECT !== undefined) {
    try {
      return { fd: openSync(path, flags | constants.O_DIRECT), direct: true };
    } catch (error) {
      if (errnoOf(error) !== 'EINVAL') throw error;
    }
  }
  return { fd: openSync(path, flags), direct: false };
}

function readAt(fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buffer, 0, length, position, (error, bytesRead) => {
      if (error === null) resolve(bytesRead);
      else reject(error);
    });
  });
}

/** Where readAhead starts and stops: both multiples of DIRECT_ALIGNMENT when the file was opened for direct I/O. */
export interface ReadSpan {
  /** Offset of the first byte read (default 0). */
  readonly start?: number;
  /** Offset where reading stops (default: the end of the file). */
  readonly end?: number;
}

/**
 * The file open at `fd` (by openForDirectRead, or any descriptor), from `span.start` to `span.end` or the file's end,
 * in order, in chunks read on libuv's pool READS_IN_FLIGHT at a time. Each chunk is valid until the next is asked
 * for (its buffer is read into again). No read is left running once the iteration ends, however it ends: the
 * caller may close `fd`.
 */
export async function* readAhead(fd: number, span: ReadSpan = {}): AsyncGenerator<Buffer, void, undefined> {
  const buffers = takeBuffers();
  const pending: (Promise<number> | undefined)[] = [];
  const stop = span.end ?? Number.MAX_SAFE_INTEGER;
  /** Offset and bytes asked of each read, by buffer: the last read of a span asks for less. */
  const at: number[] = [];
  const asked: number[] = [];
  let position = span.start ?? 0;
  const issue = (index: number): void => {
    const length = Math.min(DIRECT_READ_SIZE, stop - position);
    if (length <= 0) return;
    // A failure is thrown where its read is awaited, in order; until then the catch keeps it from being unhandled.
    const reading = readAt(fd, buffers[index] as Buffer, length, position);
    reading.catch(() => undefined);
    pending[index] = reading;
    at[index] = position;
    asked[index] = length;
    position += length;
  };
  try {
    for (let index = 0; index < READS_IN_FLIGHT; index++) issue(index);
    /** Where the file ended (a short read), once seen: every later read must find nothing there. */
    let end: number | undefined;
    for (let index = 0; ; index = (index + 1) % READS_IN_FLIGHT) {
      const reading = pending[index];
      // Reads are issued in turn, so the first buffer without one means the span is done.
      if (reading === undefined) return;
      const read = await reading;
      pending[index] = undefined;
      if (end !== undefined) {
        if (read !== 0) throw new Error(`a short read at offset ${end} did not end the file`);
        continue;
      }
      if (read > 0) yield (buffers[index] as Buffer).subarray(0, read);
      if (read < (asked[index] as number)) end = (at[index] as number) + read;
      else issue(index);
    }
  } finally {
    for (const reading of pending) if (reading !== undefined) await reading.catch(() => undefined);
    spareBuffers.push(buffers);
  }
}
