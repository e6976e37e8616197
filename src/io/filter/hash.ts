// Pass-through filter that hashes the bytes flowing through it; the hex digest is read after the copy.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { fail } from '../../common/errors.js';

export type HashAlgorithm = 'sha256';

export class HashFilter extends Transform {
  readonly #hash: Hash;
  #digest: string | undefined;

  constructor(algorithm: HashAlgorithm = 'sha256') {
    super();
    this.#hash = createHash(algorithm);
  }

  /** The hex digest of everything that passed through; only available once the stream has finished. */
  digest(): string {
    return this.#digest ?? fail('assert', 'hash digest requested before the copy finished');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#digest = this.#hash.digest('hex');
    callback();
  }
}
