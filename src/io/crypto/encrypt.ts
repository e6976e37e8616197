// Encrypts with AES-256-GCM in authenticated chunks (format: format.ts), piece by piece, for the chunk loop.
import { createCipheriv, randomBytes } from 'node:crypto';
import { ByteQueue, CHUNK_SIZE } from '../chunker.js';
import { aad, checkKey, CIPHER, fileKey, LENGTH_SIZE, MAGIC, nonce, SALT_SIZE, TAG_SIZE } from './format.js';

export { isEncrypted } from './format.js';

/** Encrypts one file given in pieces of any size: `update` for each, then `final`; each returns output to write. */
export class Encryptor {
  readonly #repositoryKey: Buffer;
  readonly #queue = new ByteQueue();
  #key: Buffer | undefined;
  #index = 0;

  /** `key`: the 32-byte repository key; each file gets its own key derived from it and a random salt. */
  constructor(key: Buffer) {
    checkKey(key);
    this.#repositoryKey = key;
  }

  update(data: Buffer): Buffer[] {
    const output = this.#start();
    this.#queue.push(data);
    // Keep at least one byte back: the final chunk must carry the final flag, and only the end says which it is.
    while (this.#queue.length > CHUNK_SIZE) output.push(this.#seal(this.#queue.take(CHUNK_SIZE), false));
    return output;
  }

  final(): Buffer[] {
    const output = this.#start();
    output.push(this.#seal(this.#queue.take(this.#queue.length), true));
    return output;
  }

  /** The header, the first time only. */
  #start(): Buffer[] {
    if (this.#key !== undefined) return [];
    const salt = randomBytes(SALT_SIZE);
    this.#key = fileKey(this.#repositoryKey, salt);
    return [Buffer.concat([MAGIC, salt])];
  }

  /** One encrypted chunk: length, ciphertext, tag. */
  #seal(plain: Buffer, final: boolean): Buffer {
    const index = this.#index++;
    const cipher = createCipheriv(CIPHER, this.#key as Buffer, nonce(index), { authTagLength: TAG_SIZE });
    cipher.setAAD(aad(index, final));
    const length = Buffer.alloc(LENGTH_SIZE);
    length.writeUInt32BE(plain.length, 0);
    const body = cipher.update(plain);
    const rest = cipher.final();
    return Buffer.concat([length, body, rest, cipher.getAuthTag()]);
  }
}
