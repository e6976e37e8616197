// Writes a large new file with direct I/O (O_DIRECT): from aligned buffers straight to the disk, two writes in flight.
//
// Why: a restore writes hundreds of megabytes it will not read again, and through the page cache each of those
// pages is first allocated, then copied into, then written back by the final fsync. Measured on the pgbench table
// (640 MiB, lz4) on the 2-core VM we benchmark on: buffered writes took 2.1-3.6 s plus 0.35-0.4 s of fsync,
// because every page the guest had not touched recently cost a fault in the hypervisor; direct writes took
// 0.95-1.05 s, durable on return. Without that cost (pages recently freed) both ways took about 0.5 s. It also
// leaves the page cache to the server that starts next, instead of filling it with a copy of the restore.
import { closeSync, constants, openSync, write, writeSync } from 'node:fs';
import { errnoOf } from '../common/errors.js';

/**
 * What direct writes are aligned to, in memory, in the file and in length: the largest logical block size in
 * common use (512-byte and 4 KiB sectors both divide it). A remainder below it goes through the page cache.
 */
export const DIRECT_ALIGNMENT = 4096;

/** The size of each write (and of each of the two staging buffers): large enough to keep a disk streaming. */
export const DIRECT_WRITE_SIZE = 1024 * 1024;

/** How a file is opened: the seam through which a test plays a filesystem that refuses O_DIRECT. */
export type OpenFile = (path: string, flags: number, mode: number) => number;

// Node's type declarations leave out WebAssembly (a browser global in TypeScript's lib), which Node has.
declare const WebAssembly: { Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer } };

const openFile: OpenFile = (path, flags, mode) => openSync(path, flags, mode);

/**
 * Pairs of staging buffers no writer uses, kept for the next file. Their memory comes from WebAssembly, which
 * starts on a page boundary, as direct I/O requires of the memory it writes from; a Buffer's memory (malloc) is
 * only 16-byte aligned.
 */
const spareStaging: [Buffer, Buffer][] = [];

function takeStaging(): [Buffer, Buffer] {
  const spare = spareStaging.pop();
  if (spare !== undefined) return spare;
  const memory = new WebAssembly.Memory({ initial: (2 * DIRECT_WRITE_SIZE) / 65536 });
  const all = Buffer.from(memory.buffer);
  return [all.subarray(0, DIRECT_WRITE_SIZE), all.subarray(DIRECT_WRITE_SIZE)];
}

/** A direct write handed to libuv's pool. */
interface PendingWrite {
  readonly buffer: Buffer;
  readonly length: number;
  readonly position: number;
  /** Settles to the error or the bytes written: never rejects, so a failure waits until it is looked at. */
  readonly done: Promise<{ error?: unknown; written: number }>;
}

function writeOnPool(fd: number, buffer: Buffer, length: number, position: number): PendingWrite {
  const done = new Promise<{ error?: unknown; written: number }>((resolve) => {
    write(fd, buffer, 0, length, position, (error, written) => {
      resolve(error === null ? { written } : { error, written: 0 });
    });
  });
  return { buffer, length, position, done };
}

/**
 * Creates (or truncates) a file and writes it from start to end. Writes through the page cache instead when told
 * to (`direct: false`, for a small file) or when the filesystem refuses direct I/O: at the open, or at the first
 * write (which is awaited alone to find out). Errors are the system's; the caller names the file. Always close(),
 * also after a failure.
 */
export class DirectFileWriter {
  readonly path: string;
  #fd: number;
  #direct: boolean;
  #staging: [Buffer, Buffer] | undefined;
  /** The staging buffer being filled, and how far. */
  #current: 0 | 1 = 0;
  #filled = 0;
  /** Where the current staging buffer starts in the file: the bytes written or in flight before it. */
  #position = 0;
  /** The write in flight from each staging buffer. */
  readonly #inFlight: (PendingWrite | undefined)[] = [undefined, undefined];
  /** Whether a direct write has succeeded yet (until then, a refusal falls back to the page cache). */
  #proven = false;
  #closed = false;
  readonly #mode: number;
  readonly #open: OpenFile;

  private constructor(path: string, fd: number, direct: boolean, mode: number, open: OpenFile) {
    this.path = path;
    this.#fd = fd;
    this.#direct = direct;
    this.#mode = mode;
    this.#open = open;
    this.#staging = direct ? takeStaging() : undefined;
  }

  /** Creates `path` with `mode` (O_TRUNC: a file already there is emptied); with direct I/O unless `direct: false`. */
  static create(
    path: string,
    mode: number,
    options: { direct?: boolean; open?: OpenFile } = {},
  ): DirectFileWriter {
    const open = options.open ?? openFile;
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC;
    if (options.direct !== false) {
      try {
        return new DirectFileWriter(path, open(path, flags | constants.O_DIRECT, mode), true, mode, open);
      } catch (error) {
        if (errnoOf(error) !== 'EINVAL') throw error;
      }
    }
    return new DirectFileWriter(path, open(path, flags, mode), false, mode, open);
  }

  /** The open file, for fchmod, fchown and futimes. */
  get fd(): number {
    return this.#fd;
  }

  /** Whether the file is being written with direct I/O. */
  get direct(): boolean {
    return this.#direct;
  }

  /** Appends `data`. The buffer may be reused once this resolves. */
  async write(data: Buffer): Promise<void> {
    let offset = 0;
    while (this.#direct && offset < data.length) {
      const buffer = (this.#staging as [Buffer, Buffer])[this.#current] as Buffer;
      const copied = data.copy(buffer, this.#filled, offset);
      this.#filled += copied;
      offset += copied;
      if (this.#filled === DIRECT_WRITE_SIZE) await this.#submit();
    }
    // Through the page cache from the start (not direct, or refused at the open), or since a refused first write.
    if (offset < data.length) this.#appendBuffered(this.#fd, data.subarray(offset));
  }

  /** Writes what is staged and waits for every write: the file then holds all the data (not yet fsynced). */
  async finish(): Promise<void> {
    if (!this.#direct) return;
    const buffer = (this.#staging as [Buffer, Buffer])[this.#current] as Buffer;
    const aligned = this.#filled - (this.#filled % DIRECT_ALIGNMENT);
    // A copy: the staging buffers go back to the spares if the write below is refused.
    const rest = Buffer.from(buffer.subarray(aligned, this.#filled));
    this.#filled = aligned;
    if (aligned > 0) await this.#submit();
    await this.#settle(0);
    await this.#settle(1);
    if (rest.length === 0) return;
    if (!this.#direct) {
      this.#appendBuffered(this.#fd, rest);
      return;
    }
    // Below the alignment: through the page cache, on a second descriptor (Node cannot clear O_DIRECT).
    const fd = this.#open(this.path, constants.O_WRONLY, this.#mode);
    try {
      this.#appendBuffered(fd, rest);
    } finally {
      closeSync(fd);
    }
  }

  /** Closes the file once no write is in flight, and keeps the staging buffers for the next file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Writes in flight never reject (writeOnPool): after a failure they only need to end before the close.
    for (const pending of this.#inFlight) if (pending !== undefined) await pending.done;
    closeSync(this.#fd);
    this.#releaseStaging();
  }

  /** Hands the current buffer to the pool and moves to the other one, once that one's own write has ended. */
  async #submit(): Promise<void> {
    const index = this.#current;
    const buffer = (this.#staging as [Buffer, Buffer])[index] as Buffer;
    const length = this.#filled;
    const position = this.#position;
    this.#inFlight[index] = writeOnPool(this.#fd, buffer, length, position);
    this.#position += length;
    this.#filled = 0;
    this.#current = index === 0 ? 1 : 0;
    if (this.#proven) {
      await this.#settle(this.#current);
      return;
    }
    // The first write alone: a filesystem that opened with O_DIRECT may still refuse it here.
    const { error } = await (this.#inFlight[index] as PendingWrite).done;
    if (error === undefined) {
      await this.#settle(index);
      this.#proven = true;
      return;
    }
    this.#inFlight[index] = undefined;
    if (errnoOf(error) !== 'EINVAL') throw error;
    // Go on through the page cache, starting with what the refused write held.
    const fd = this.#open(this.path, constants.O_WRONLY, this.#mode);
    closeSync(this.#fd);
    this.#fd = fd;
    this.#direct = false;
    this.#position = position;
    this.#appendBuffered(fd, buffer.subarray(0, length));
    this.#releaseStaging();
  }

  /**
   * Waits for the write in flight from staging buffer `index` and throws its error. A short write (the disk filling
   * up, say) has its rest written through the page cache, which then reports the system's reason, or succeeds.
   */
  async #settle(index: 0 | 1): Promise<void> {
    const pending = this.#inFlight[index];
    if (pending === undefined) return;
    const { error, written } = await pending.done;
    this.#inFlight[index] = undefined;
    if (error !== undefined) throw error;
    if (written === pending.length) return;
    const fd = this.#open(this.path, constants.O_WRONLY, this.#mode);
    try {
      const rest = pending.buffer.subarray(written, pending.length);
      for (let done = 0; done < rest.length;) {
        done += writeSync(fd, rest, done, rest.length - done, pending.position + written + done);
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Writes `data` at the end of what is written, through `fd` (a descriptor without O_DIRECT). */
  #appendBuffered(fd: number, data: Buffer): void {
    for (let done = 0; done < data.length;) {
      done += writeSync(fd, data, done, data.length - done, this.#position + done);
    }
    this.#position += data.length;
  }

  #releaseStaging(): void {
    if (this.#staging !== undefined) spareStaging.push(this.#staging);
    this.#staging = undefined;
  }
}
