// Tests for Encryptor and Decryptor: round trips, format, and detection of every kind of tampering.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPgStashError, type PgStashError } from '../../../../src/common/errors.js';
import { CHUNK_SIZE } from '../../../../src/io/chunker.js';
import { Decryptor, isEncrypted, type DecryptOptions } from '../../../../src/io/crypto/decrypt.js';
import { Encryptor } from '../../../../src/io/crypto/encrypt.js';
import { chunkSizes, makeData, testData } from '../helpers.js';

const KEY = randomBytes(32);
const HEADER = 40;
const OVERHEAD = 4 + 16;

/** `data` cut as chunkedSource cuts it: `sizes` cycled, at most about 2000 pieces. */
function* piecesOf(data: Buffer, sizes: readonly number[]): Generator<Buffer> {
  const floor = Math.ceil(data.length / 2000);
  for (let offset = 0, index = 0; offset < data.length; index++) {
    const size = Math.max(sizes[index % sizes.length] ?? 65536, floor, 1);
    yield data.subarray(offset, offset + size);
    offset += size;
  }
}

/** Encrypts `data` with Encryptor, fed in pieces of `sizes` (by default whole chunks, as the chunk loop feeds it). */
async function encrypt(data: Buffer, key = KEY, sizes: readonly number[] = [CHUNK_SIZE]): Promise<Buffer> {
  const encryptor = new Encryptor(key);
  const output: Buffer[] = [];
  for (const piece of piecesOf(data, sizes)) output.push(...encryptor.update(piece));
  output.push(...encryptor.final());
  return Buffer.concat(output);
}

/**
 * Decrypts `data` with Decryptor, fed in pieces of `sizes`; a promise, so that errors of the constructor, update
 * and final all reject it.
 */
async function decryptWith(
  data: Buffer,
  key: Buffer,
  options: DecryptOptions | undefined,
  sizes: readonly number[] = [65536],
): Promise<Buffer> {
  const decryptor = new Decryptor(key, options);
  const output: Buffer[] = [];
  for (const piece of piecesOf(data, sizes)) output.push(...decryptor.update(piece));
  decryptor.final();
  return Buffer.concat(output);
}

const decrypt = (data: Buffer, key = KEY, sizes?: readonly number[]): Promise<Buffer> =>
  decryptWith(data, key, { name: 'archive/main/file' }, sizes);

async function cryptoError(run: Promise<unknown>): Promise<PgStashError> {
  const error = await run.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (isPgStashError(error, 'crypto')) return error;
  throw new Error(`expected a crypto error, got ${String(error)}`);
}

/** Offsets of each chunk (its length field) in an encrypted file. */
function chunkOffsets(file: Buffer): number[] {
  const offsets: number[] = [];
  for (let offset = HEADER; offset < file.length; offset += OVERHEAD + file.readUInt32BE(offset))
    offsets.push(offset);
  return offsets;
}

/** 2 MiB + 5 bytes: three chunks, the last one short. */
const DATA = makeData(2 * CHUNK_SIZE + 5, 'mixed', 3);

describe('Encryptor and Decryptor', () => {
  it('round-trip any data, whatever the chunking on both sides', async () => {
    await fc.assert(
      fc.asyncProperty(testData, chunkSizes, chunkSizes, async (data, writeSizes, readSizes) => {
        const encrypted = await encrypt(data, KEY, writeSizes);
        expect(isEncrypted(encrypted)).toBe(true);
        expect(encrypted.length).toBe(
          HEADER + Math.max(1, Math.ceil(data.length / CHUNK_SIZE)) * OVERHEAD + data.length,
        );
        expect((await decrypt(encrypted, KEY, readSizes)).equals(data)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('write the documented layout: magic, salt, then length-prefixed chunks of at most 1 MiB', async () => {
    const encrypted = await encrypt(DATA);
    expect(encrypted.subarray(0, 8).toString('latin1')).toBe('PGSTENC1');
    const offsets = chunkOffsets(encrypted);
    expect(offsets.map((offset) => encrypted.readUInt32BE(offset))).toEqual([CHUNK_SIZE, CHUNK_SIZE, 5]);
    const empty = await encrypt(Buffer.alloc(0));
    expect(empty.length).toBe(HEADER + OVERHEAD);
    expect(empty.readUInt32BE(HEADER)).toBe(0);
    // A chunk of exactly 1 MiB is final when nothing follows it.
    expect(chunkOffsets(await encrypt(Buffer.alloc(CHUNK_SIZE))).length).toBe(1);
  });

  it('Encryptor, fed in any pieces, writes the layout it writes from whole chunks, and Decryptor decrypts it', async () => {
    for (const length of [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 5]) {
      const data = makeData(length, 'mixed', length);
      const whole = await encrypt(data, KEY, [300_000]);
      const streamed = await encrypt(data);
      expect(whole.length).toBe(streamed.length);
      const lengths = (file: Buffer): number[] =>
        chunkOffsets(file).map((offset) => file.readUInt32BE(offset));
      expect(lengths(whole)).toEqual(lengths(streamed));
      expect((await decrypt(whole)).equals(data)).toBe(true);
    }
  });

  it('use a fresh salt, so the same input encrypts differently every time', async () => {
    const a = await encrypt(Buffer.from('same'));
    const b = await encrypt(Buffer.from('same'));
    expect(a.subarray(8, HEADER).equals(b.subarray(8, HEADER))).toBe(false);
    expect(a.subarray(HEADER).equals(b.subarray(HEADER))).toBe(false);
  });

  it('detect a missing final chunk and any truncation', async () => {
    const encrypted = await encrypt(DATA);
    const offsets = chunkOffsets(encrypted);
    const dropFinal = await cryptoError(decrypt(encrypted.subarray(0, offsets[2])));
    expect(dropFinal.message).toBe(
      "unable to decrypt 'archive/main/file': wrong passphrase or corrupt data " +
        '(the data ends after 2 chunks, before the final one)',
    );
    expect(dropFinal.code).toBe(95);
    await cryptoError(decrypt(encrypted.subarray(0, encrypted.length - 1)));
    for (const cut of [0, 7, 8, HEADER - 1, HEADER, HEADER + 3, HEADER + 100, (offsets[1] as number) + 2]) {
      await cryptoError(decrypt(encrypted.subarray(0, cut)));
    }
  });

  it('detect reordered chunks, chunks spliced from another file, and data after the final chunk', async () => {
    const data = makeData(3 * CHUNK_SIZE, 'random', 5);
    const encrypted = await encrypt(data);
    const [first, second, third] = chunkOffsets(encrypted) as [number, number, number];
    const swapped = Buffer.concat([
      encrypted.subarray(0, first),
      encrypted.subarray(second, third),
      encrypted.subarray(first, second),
      encrypted.subarray(third),
    ]);
    expect((await cryptoError(decrypt(swapped))).message).toMatch(/authentication failed for chunk 0/);
    const other = await encrypt(data);
    const spliced = Buffer.concat([encrypted.subarray(0, second), other.subarray(second)]);
    expect((await cryptoError(decrypt(spliced))).message).toMatch(/authentication failed for chunk 1/);
    const appended = Buffer.concat([encrypted, other.subarray(third)]);
    expect((await cryptoError(decrypt(appended))).message).toMatch(/unexpected data after the final chunk/);
    // The final chunk moved to a file that continues: its flag no longer fits its place.
    const small = await encrypt(Buffer.from('tiny'));
    expect((await cryptoError(decrypt(Buffer.concat([small, Buffer.alloc(1)])))).message).toMatch(
      /after the final/,
    );
  });

  it('detect one flipped bit anywhere: header, salt, length, ciphertext, tag', async () => {
    const encrypted = await encrypt(DATA);
    const [, second, third] = chunkOffsets(encrypted) as [number, number, number];
    const positions = [
      0,
      7,
      8,
      HEADER - 1,
      HEADER,
      HEADER + 3,
      HEADER + 4,
      second - 17,
      second - 16,
      second - 1,
    ];
    positions.push(third, third + 3, third + 4, encrypted.length - 17, encrypted.length - 1);
    const check = async (position: number, bit: number): Promise<void> => {
      const damaged = Buffer.from(encrypted);
      damaged[position] = (damaged[position] as number) ^ (1 << bit);
      await cryptoError(decrypt(damaged));
    };
    for (const position of positions) await check(position, 0);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: encrypted.length - 1 }),
        fc.integer({ min: 0, max: 7 }),
        check,
      ),
      { numRuns: 40 },
    );
  });

  it('refuse the wrong key with a clear message', async () => {
    const encrypted = await encrypt(Buffer.from('secret'));
    const error = await cryptoError(decrypt(encrypted, randomBytes(32)));
    expect(error.message).toBe(
      "unable to decrypt 'archive/main/file': wrong passphrase or corrupt data (authentication failed for chunk 0)",
    );
    expect(error.hint).toMatch(/passphrase/);
  });

  it('refuse data that is not encrypted', async () => {
    expect(isEncrypted(Buffer.from('PGSTENC'))).toBe(false);
    expect(isEncrypted(makeData(100, 'text'))).toBe(false);
    const error = await cryptoError(decryptWith(makeData(100, 'text'), KEY, undefined));
    expect(error.message).toBe(
      'unable to decrypt data: wrong passphrase or corrupt data (the data is not encrypted by pgstash (bad header))',
    );
    await cryptoError(decrypt(Buffer.alloc(0)));
  });

  it('refuse a key that is not 32 bytes', () => {
    expect(() => new Encryptor(Buffer.alloc(16))).toThrow(/invalid repository key/);
    expect(() => new Decryptor(Buffer.alloc(31))).toThrow(/invalid repository key/);
  });
});
