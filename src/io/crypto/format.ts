// The encrypted file format shared by Encryptor and Decryptor: header, per-file key, nonces, and AAD.
import { hkdfSync } from 'node:crypto';
import { fail } from '../../common/errors.js';

/*
 * File = header, then chunks.
 *   header: magic 'PGSTENC1' (8 bytes) + random file salt (32 bytes)
 *   chunk:  ciphertext length (4 bytes, big-endian, at most CHUNK_SIZE) + ciphertext + GCM tag (16 bytes)
 * Each file has its own AES-256-GCM key, HKDF-SHA256(repository key, salt), so nonces never repeat across files
 * and a chunk spliced in from another file fails. The nonce is the chunk index (96-bit big-endian counter), so
 * reordered chunks fail. The AAD is the index plus a final-chunk flag: a file cut at a chunk boundary lacks its
 * final chunk, and data after the final chunk is refused. An empty file is one empty final chunk.
 */

export const MAGIC = Buffer.from('PGSTENC1', 'latin1');
export const SALT_SIZE = 32;
export const HEADER_SIZE = MAGIC.length + SALT_SIZE;
export const LENGTH_SIZE = 4;
export const TAG_SIZE = 16;
export const KEY_SIZE = 32;
export const CIPHER = 'aes-256-gcm';
const HKDF_INFO = Buffer.from('pgstash file key v1', 'latin1');
const NONCE_SIZE = 12;

/** True when `head` (the first bytes of a file, at least the magic's 8) starts like an encrypted file. */
export function isEncrypted(head: Buffer): boolean {
  return head.length >= MAGIC.length && head.subarray(0, MAGIC.length).equals(MAGIC);
}

/** The file's own key, derived from the repository key and the file's salt. */
export function fileKey(repositoryKey: Buffer, salt: Buffer): Buffer {
  checkKey(repositoryKey);
  return Buffer.from(hkdfSync('sha256', repositoryKey, salt, HKDF_INFO, KEY_SIZE));
}

export function checkKey(key: Buffer): void {
  if (key.length !== KEY_SIZE)
    fail('assert', `invalid repository key: ${key.length} bytes instead of ${KEY_SIZE}`);
}

export function nonce(index: number): Buffer {
  const result = Buffer.alloc(NONCE_SIZE);
  result.writeUInt32BE(Math.floor(index / 0x1_0000_0000), 4);
  result.writeUInt32BE(index >>> 0, 8);
  return result;
}

export function aad(index: number, final: boolean): Buffer {
  const result = Buffer.alloc(9);
  result.writeUInt32BE(Math.floor(index / 0x1_0000_0000), 0);
  result.writeUInt32BE(index >>> 0, 4);
  result[8] = final ? 1 : 0;
  return result;
}
