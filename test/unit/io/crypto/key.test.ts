// Tests for the repository key: generation, wrapping under a passphrase, and refusal of a wrong passphrase.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPgStashError, type PgStashError } from '../../../../src/common/errors.js';
import {
  generateKey,
  SCRYPT_PARAMETERS,
  unwrapKey,
  wrapKey,
  type WrappedKey,
} from '../../../../src/io/crypto/key.js';

async function failure(run: Promise<unknown>, kind: 'crypto' | 'format'): Promise<PgStashError> {
  const error = await run.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (isPgStashError(error, kind)) return error;
  throw new Error(`expected a ${kind} error, got ${String(error)}`);
}

describe('generateKey', () => {
  it('makes distinct 32-byte keys', () => {
    const a = generateKey();
    expect(a.length).toBe(32);
    expect(a.equals(generateKey())).toBe(false);
  });
});

describe('wrapKey and unwrapKey', () => {
  it('round-trip through JSON for any passphrase', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }), async (passphrase) => {
        const key = generateKey();
        const stored = JSON.parse(JSON.stringify(await wrapKey(key, passphrase))) as WrappedKey;
        expect((await unwrapKey(stored, passphrase)).equals(key)).toBe(true);
      }),
      { numRuns: 5 },
    );
  });

  it('store the KDF and its parameters with the key', async () => {
    const wrapped = await wrapKey(generateKey(), 'pass');
    expect(wrapped).toMatchObject({
      kdf: 'scrypt',
      n: SCRYPT_PARAMETERS.n,
      r: SCRYPT_PARAMETERS.r,
      p: SCRYPT_PARAMETERS.p,
    });
    expect(Object.keys(wrapped).sort()).toEqual(['data', 'iv', 'kdf', 'n', 'p', 'r', 'salt', 'tag']);
    const other = await wrapKey(generateKey(), 'pass', { scrypt: { n: 1024, r: 8, p: 1 } });
    expect(other.n).toBe(1024);
    expect((await unwrapKey(other, 'pass')).length).toBe(32);
  });

  it('cost about 10-20 ms to unwrap (scrypt runs at every archive-push and archive-get)', async () => {
    const wrapped = await wrapKey(generateKey(), 'pass');
    const times: number[] = [];
    for (let run = 0; run < 5; run++) {
      const start = performance.now();
      await unwrapKey(wrapped, 'pass');
      times.push(performance.now() - start);
    }
    const best = Math.min(...times);
    // Loose bounds: a loaded 2-core CI machine is slower; the point is "not 100 ms, not 1 ms".
    expect(best).toBeGreaterThan(2);
    expect(best).toBeLessThan(80);
  });

  it('refuse a wrong passphrase with a crypto error that names the option, never the passphrase', async () => {
    const wrapped = await wrapKey(generateKey(), 'correct horse');
    const error = await failure(unwrapKey(wrapped, 'battery staple'), 'crypto');
    expect(error.code).toBe(95);
    expect(error.message).toBe(
      "unable to unwrap the repository key: wrong passphrase in 'repo1-cipher-pass'?",
    );
    expect(`${error.message} ${error.hint ?? ''}`).not.toMatch(/battery|correct/);
    const named = await failure(unwrapKey(wrapped, '', { option: 'repo2-cipher-pass' }), 'crypto');
    expect(named.message).toMatch(/'repo2-cipher-pass'/);
  });

  it('refuse a tampered key file: data, tag, or lowered parameters', async () => {
    const wrapped = await wrapKey(generateKey(), 'pass');
    const flip = (base64: string): string => {
      const bytes = Buffer.from(base64, 'base64');
      bytes[0] = (bytes[0] as number) ^ 1;
      return bytes.toString('base64');
    };
    await failure(unwrapKey({ ...wrapped, data: flip(wrapped.data) }, 'pass'), 'crypto');
    await failure(unwrapKey({ ...wrapped, tag: flip(wrapped.tag) }, 'pass'), 'crypto');
    await failure(unwrapKey({ ...wrapped, salt: flip(wrapped.salt) }, 'pass'), 'crypto');
    await failure(unwrapKey({ ...wrapped, n: wrapped.n / 2 }, 'pass'), 'crypto');
  });

  it('refuse values that are not wrapped keys with a format error', async () => {
    const wrapped = await wrapKey(generateKey(), 'pass');
    const bad: unknown[] = [
      null,
      'text',
      { ...wrapped, kdf: 'pbkdf2' },
      { ...wrapped, n: 1000 },
      { ...wrapped, n: 1 << 24 },
      { ...wrapped, r: 0 },
      { ...wrapped, p: '1' },
      { ...wrapped, iv: 'short' },
      { ...wrapped, data: undefined },
      { ...wrapped, salt: `${wrapped.salt}!` },
    ];
    for (const value of bad) await failure(unwrapKey(value as WrappedKey, 'pass'), 'format');
  });

  it('refuse to wrap a key that is not 32 bytes', async () => {
    await expect(wrapKey(Buffer.alloc(16), 'pass')).rejects.toThrow(/invalid repository key/);
  });
});
