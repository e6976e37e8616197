// Encrypts with AES-256-GCM in authenticated chunks (format: ../crypto/format.ts), as a stream filter or at once.
import { createCipheriv, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ByteQueue, CHUNK_SIZE } from '../chunker.js';
import {
  aad,
  checkKey,
  CIPHER,
  fileKey,
  LENGTH_SIZE,
  MAGIC,
  nonce,
  SALT_SIZE,
  TAG_SIZE,
} from '../crypto/format.js';

export { isEncrypted } from '../crypto/format.js';

export class EncryptFilter extends Transform {
  readonly #repositoryKey: Buffer;
  readonly #queue = new ByteQueue();
  #key: Buffer | undefined;
  #index = 0;

  /** `key`: the 32-byte repository key; each file gets its own key derived from it and a random salt. */
  constructor(key: Buffer) {
    super();
    checkKey(key);
    this.#repositoryKey = key;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#start();
    this.#queue.push(chunk);
    // Keep at least one byte back: the final chunk must carry the final flag, and only the end says which it is.
    while (this.#queue.length > CHUNK_SIZE) this.#seal(this.#queue.take(CHUNK_SIZE), false);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#start();
    this.#seal(this.#queue.take(this.#queue.length), true);
    callback();
  }

  #start(): void {
    if (this.#key !== undefined) return;
    const salt = randomBytes(SALT_SIZE);
    this.#key = fileKey(this.#repositoryKey, salt);
    this.push(Buffer.concat([MAGIC, salt]));
  }

  #seal(plain: Buffer, final: boolean): void {
    this.push(sealChunk(this.#key as Buffer, this.#index++, plain, final));
  }
}

/** One encrypted chunk: length, ciphertext, tag. */
function sealChunk(key: Buffer, index: number, plain: Buffer, final: boolean): Buffer {
  const cipher = createCipheriv(CIPHER, key, nonce(index), { authTagLength: TAG_SIZE });
  cipher.setAAD(aad(index, final));
  const length = Buffer.alloc(LENGTH_SIZE);
  length.writeUInt32BE(plain.length, 0);
  const body = cipher.update(plain);
  const rest = cipher.final();
  return Buffer.concat([length, body, rest, cipher.getAuthTag()]);
}

/** Encrypts a whole buffer into exactly what EncryptFilter makes of the same bytes (for small files). */
export function encryptBuffer(repositoryKey: Buffer, data: Buffer): Buffer {
  checkKey(repositoryKey);
  const salt = randomBytes(SALT_SIZE);
  const key = fileKey(repositoryKey, salt);
  const parts: Buffer[] = [MAGIC, salt];
  let index = 0;
  let offset = 0;
  // As the filter: full chunks while more than one chunk remains, then the rest (perhaps empty) as the final one.
  for (; data.length - offset > CHUNK_SIZE; offset += CHUNK_SIZE) {
    parts.push(sealChunk(key, index++, data.subarray(offset, offset + CHUNK_SIZE), false));
  }
  parts.push(sealChunk(key, index, data.subarray(offset), true));
  return Buffer.concat(parts);
}
