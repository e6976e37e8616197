// A readable stream over an open file (FileIo): a byte range in large positioned reads.
import { Readable } from 'node:stream';
import { wrapError } from '../common/errors.js';
import type { FileIo } from './file-io.js';

/** Reads a byte range with large positioned reads; closes the file when it ends or is destroyed. */
export class FileReadStream extends Readable {
  readonly #handle: FileIo;
  readonly #path: string;
  readonly #end: number;
  readonly #sizeHint: number;
  readonly #readSize: number;
  #position: number;

  /**
   * `readSize`: bytes per read, each read only when asked (no read ahead: one of many files open at once); default
   * the handle's large reads (FileIo.readSize), one read ahead.
   */
  constructor(
    handle: FileIo,
    options: { path: string; offset: number; end: number; sizeHint: number; readSize?: number | undefined },
  ) {
    const readSize = options.readSize ?? handle.readSize;
    super({ highWaterMark: options.readSize === undefined ? readSize : 0 });
    this.#readSize = readSize;
    this.#handle = handle;
    this.#path = options.path;
    this.#position = options.offset;
    this.#end = options.end;
    this.#sizeHint = options.sizeHint;
  }

  override _read(): void {
    const wanted = Math.min(this.#readSize, this.#end - this.#position);
    if (wanted <= 0) {
      this.push(null);
      return;
    }
    // Size the buffer for what the file is expected to hold; one more read confirms the end.
    const length = Math.min(wanted, Math.max(this.#sizeHint - this.#position, 64 * 1024));
    const buffer = Buffer.allocUnsafe(length);
    this.#handle.read(buffer, 0, length, this.#position).then(
      (bytesRead) => {
        if (bytesRead === 0) {
          this.push(null);
          return;
        }
        this.#position += bytesRead;
        // Do not pin a mostly empty buffer in the consumer's queue.
        this.push(
          bytesRead < length / 2 ? Buffer.from(buffer.subarray(0, bytesRead)) : buffer.subarray(0, bytesRead),
        );
      },
      (error: unknown) => this.destroy(wrapError('fileRead', `unable to read '${this.#path}'`, error)),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#handle.close().then(
      () => callback(error),
      (closeError: unknown) =>
        callback(error ?? wrapError('fileRead', `unable to close '${this.#path}'`, closeError)),
    );
  }
}
