// Pass-through filter that counts the bytes flowing through it (file size, or size as stored).
import { Transform, type TransformCallback } from 'node:stream';

export class SizeFilter extends Transform {
  #size = 0;

  /** Bytes seen so far; the total once the copy has finished. */
  get size(): number {
    return this.#size;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#size += chunk.length;
    callback(null, chunk);
  }
}
