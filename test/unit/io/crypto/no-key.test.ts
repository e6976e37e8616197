// Tests for reading without a key: an encrypted file is refused (crypto 95), whatever the pieces it arrives in.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { COMPRESS_TYPES, defaultCompressLevel } from '../../../../src/io/compress.js';
import { EncryptedWithoutKeyError } from '../../../../src/io/crypto/no-key.js';
import { decodeStored } from '../../../../src/io/decode.js';
import { chunkedSource, encoded } from '../helpers.js';

const KEY = randomBytes(32);

async function decodedWithoutKey(
  stored: Buffer,
  compressType: (typeof COMPRESS_TYPES)[number],
  readSize: number,
) {
  const pieces: Buffer[] = [];
  for await (const piece of decodeStored(chunkedSource(stored, [readSize]), {
    compressType,
    lz4OnPool: false,
  }))
    pieces.push(piece);
  return Buffer.concat(pieces);
}

describe('decodeStored without a key', () => {
  for (const type of COMPRESS_TYPES.filter((name) => name !== 'none')) {
    it(`refuses an encrypted ${type} file with crypto (95), even when it arrives a few bytes at a time`, async () => {
      const data = randomBytes(2000); // small: chunkedSource reads at least a 2000th of it at a time
      const compress = { type, level: defaultCompressLevel(type) };
      const stored = await encoded(data, { compress, key: KEY });
      for (const readSize of [3, 8, 65536]) {
        const error = await decodedWithoutKey(stored, type, readSize).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(EncryptedWithoutKeyError);
        expect((error as EncryptedWithoutKeyError).kind).toBe('crypto');
      }
      // Unencrypted, the same data reads back, in pieces shorter than the magic too.
      const plain = await encoded(data, { compress });
      for (const readSize of [3, 65536])
        expect((await decodedWithoutKey(plain, type, readSize)).equals(data)).toBe(true);
    });
  }

  it('passes an uncompressed file through whatever it starts with: its content is the original, the magic included', async () => {
    const data = Buffer.concat([Buffer.from('PGSTENC1', 'latin1'), randomBytes(100)]);
    const stored = await encoded(data, { compress: { type: 'none', level: 0 } });
    expect((await decodedWithoutKey(stored, 'none', 3)).equals(data)).toBe(true);
  });
});
