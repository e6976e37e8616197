// Decrypts and authenticates what Encryptor wrote, piece by piece; any tampering fails with 'crypto'.
import { createDecipheriv } from 'node:crypto';
import { ByteQueue, CHUNK_SIZE } from '../chunker.js';
import {
  aad,
  checkKey,
  CIPHER,
  fileKey,
  HEADER_SIZE,
  isEncrypted,
  LENGTH_SIZE,
  MAGIC,
  nonce,
  TAG_SIZE,
} from './format.js';
import { PgStashError } from '../../common/errors.js';

export { isEncrypted } from './format.js';

export interface DecryptOptions {
  /** The file's name for messages ("unable to decrypt 'name': ..."). */
  readonly name?: string;
}

/**
 * Decrypts one file given in pieces of any size: `update` for each returns the plaintext of the chunks it
 * completed (each released only after its tag is verified), `final` checks the data ended where it should.
 */
export class Decryptor {
  readonly #repositoryKey: Buffer;
  readonly #name: string | undefined;
  readonly #queue = new ByteQueue();
  #key: Buffer | undefined;
  #index = 0;
  /** Ciphertext length of the chunk being received, once its length field has been read. */
  #length: number | undefined;
  #finalSeen = false;

  constructor(key: Buffer, options?: DecryptOptions) {
    checkKey(key);
    this.#repositoryKey = key;
    this.#name = options?.name;
  }

  update(data: Buffer): Buffer[] {
    this.#queue.push(data);
    const output: Buffer[] = [];
    if (this.#key === undefined) {
      if (this.#queue.length < MAGIC.length) return output;
      if (!isEncrypted(this.#queue.peek(0, MAGIC.length))) {
        throw this.#error('the data is not encrypted by pgstash (bad header)');
      }
      if (this.#queue.length < HEADER_SIZE) return output;
      const header = this.#queue.take(HEADER_SIZE);
      this.#key = fileKey(this.#repositoryKey, header.subarray(MAGIC.length));
    }
    for (;;) {
      if (this.#queue.length > 0 && this.#finalSeen)
        throw this.#error('unexpected data after the final chunk');
      if (this.#length === undefined) {
        if (this.#queue.length < LENGTH_SIZE) return output;
        const length = this.#queue.take(LENGTH_SIZE).readUInt32BE(0);
        if (length > CHUNK_SIZE) throw this.#error(`invalid length ${length} of chunk ${this.#index}`);
        this.#length = length;
      }
      if (this.#queue.length < this.#length + TAG_SIZE) return output;
      const sealed = this.#queue.take(this.#length + TAG_SIZE);
      this.#length = undefined;
      output.push(this.#unseal(sealed));
    }
  }

  /** Throws when the data ended early: inside the header, or before the final chunk. */
  final(): void {
    if (this.#key === undefined) {
      throw this.#error(`the data ends inside the ${HEADER_SIZE}-byte header`);
    }
    if (!this.#finalSeen)
      throw this.#error(`the data ends after ${this.#index} chunks, before the final one`);
  }

  /**
   * The final flag is not stored, only authenticated, and whether a chunk is the last one is known only when the
   * stream ends; so a chunk is verified as non-final, then as final. At most one of the two authenticates; data
   * after a final chunk is refused, and a stream without one is truncated.
   */
  #unseal(sealed: Buffer): Buffer {
    const ciphertext = sealed.subarray(0, sealed.length - TAG_SIZE);
    const tag = sealed.subarray(sealed.length - TAG_SIZE);
    const index = this.#index++;
    for (const final of [false, true]) {
      const decipher = createDecipheriv(CIPHER, this.#key as Buffer, nonce(index), {
        authTagLength: TAG_SIZE,
      });
      decipher.setAAD(aad(index, final));
      decipher.setAuthTag(tag);
      const plain = decipher.update(ciphertext);
      try {
        const rest = decipher.final();
        this.#finalSeen = final;
        return rest.length === 0 ? plain : Buffer.concat([plain, rest]);
      } catch {
        // Authentication failed with this flag; try the other, then give up.
      }
    }
    throw this.#error(`authentication failed for chunk ${index}`);
  }

  #error(detail: string): PgStashError {
    const what = this.#name === undefined ? 'data' : `'${this.#name}'`;
    return new PgStashError(
      'crypto',
      `unable to decrypt ${what}: wrong passphrase or corrupt data (${detail})`,
      {
        hint: 'check the repository cipher passphrase; if it is right, the file is damaged',
      },
    );
  }
}
