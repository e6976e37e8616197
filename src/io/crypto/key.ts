// The repository key: 32 random bytes, stored wrapped (AES-256-GCM) under a key derived from the passphrase by scrypt.
import { createCipheriv, createDecipheriv, randomBytes, scrypt, type ScryptOptions } from 'node:crypto';
import { fail, PgStashError } from '../../common/errors.js';
import { checkKey, CIPHER, KEY_SIZE, TAG_SIZE } from './format.js';

/** The wrapped key as stored in the repository (JSON); binary fields are base64. */
export interface WrappedKey {
  readonly kdf: 'scrypt';
  readonly n: number;
  readonly r: number;
  readonly p: number;
  readonly salt: string;
  readonly iv: string;
  readonly tag: string;
  readonly data: string;
}

export interface ScryptParameters {
  readonly n: number;
  readonly r: number;
  readonly p: number;
}

/**
 * scrypt runs at the start of every archive-push and archive-get, while PostgreSQL waits: N=2^12, r=8 costs about
 * 13-17 ms (4 MiB of memory) on a small 2-core machine; N=2^13 cost 27-35 ms there. The parameters are stored in
 * each WrappedKey, so a later version can raise them by re-wrapping.
 */
export const SCRYPT_PARAMETERS: ScryptParameters = { n: 1 << 12, r: 8, p: 1 };

/** Upper bounds accepted when unwrapping, so a damaged or hostile key file cannot demand gigabytes or minutes. */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

const SALT_SIZE = 16;
const IV_SIZE = 12;

/** A new random repository key. */
export function generateKey(): Buffer {
  return randomBytes(KEY_SIZE);
}

export interface WrapOptions {
  /** scrypt cost parameters (default SCRYPT_PARAMETERS). */
  readonly scrypt?: ScryptParameters;
}

export async function wrapKey(key: Buffer, passphrase: string, options?: WrapOptions): Promise<WrappedKey> {
  const parameters = options?.scrypt ?? SCRYPT_PARAMETERS;
  checkKey(key);
  checkParameters(parameters);
  const salt = randomBytes(SALT_SIZE);
  const iv = randomBytes(IV_SIZE);
  const { n, r, p } = parameters;
  const cipher = createCipheriv(CIPHER, await deriveKey(passphrase, salt, parameters), iv, {
    authTagLength: TAG_SIZE,
  });
  cipher.setAAD(parametersAad(parameters));
  const data = Buffer.concat([cipher.update(key), cipher.final()]);
  return {
    kdf: 'scrypt',
    n,
    r,
    p,
    salt: salt.toString('base64'),
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  };
}

export interface UnwrapOptions {
  /** The option holding the passphrase, named in the message (default 'repo1-cipher-pass'). */
  readonly option?: string;
}

/**
 * The repository key. A wrong passphrase (or a tampered key file) fails with PgStashError('crypto'); a value that
 * is not a wrapped key at all fails with PgStashError('format'). The passphrase never appears in a message.
 */
export async function unwrapKey(
  wrapped: WrappedKey,
  passphrase: string,
  options?: UnwrapOptions,
): Promise<Buffer> {
  const checked = checkWrapped(wrapped);
  const decipher = createDecipheriv(CIPHER, await deriveKey(passphrase, checked.salt, checked), checked.iv, {
    authTagLength: TAG_SIZE,
  });
  decipher.setAAD(parametersAad(checked));
  decipher.setAuthTag(checked.tag);
  const plain = decipher.update(checked.data);
  try {
    return Buffer.concat([plain, decipher.final()]);
  } catch {
    const option = options?.option ?? 'repo1-cipher-pass';
    throw new PgStashError(
      'crypto',
      `unable to unwrap the repository key: wrong passphrase in '${option}'?`,
      {
        hint: `check that '${option}' is the passphrase the repository was created with`,
      },
    );
  }
}

/** Binds the KDF parameters to the wrapped key: editing them in the file makes unwrapping fail. */
function parametersAad({ n, r, p }: ScryptParameters): Buffer {
  return Buffer.from(`pgstash key v1 scrypt n=${n} r=${r} p=${p}`, 'latin1');
}

function deriveKey(passphrase: string, salt: Buffer, { n, r, p }: ScryptParameters): Promise<Buffer> {
  const options: ScryptOptions = { N: n, r, p, maxmem: 256 * n * r * p + (1 << 20) };
  return new Promise((resolve, reject) => {
    scrypt(passphrase, salt, KEY_SIZE, options, (error, derived) =>
      error ? reject(error) : resolve(derived),
    );
  });
}

function checkParameters({ n, r, p }: ScryptParameters): void {
  const valid =
    Number.isInteger(n) &&
    n >= 2 &&
    n <= MAX_N &&
    (n & (n - 1)) === 0 &&
    Number.isInteger(r) &&
    r >= 1 &&
    r <= MAX_R &&
    Number.isInteger(p) &&
    p >= 1 &&
    p <= MAX_P;
  if (!valid) fail('format', `invalid wrapped key: unsupported scrypt parameters n=${n} r=${r} p=${p}`);
}

interface CheckedKey extends ScryptParameters {
  readonly salt: Buffer;
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly data: Buffer;
}

function checkWrapped(value: unknown): CheckedKey {
  const object = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (object['kdf'] !== 'scrypt')
    fail('format', `invalid wrapped key: unsupported kdf '${String(object['kdf'])}'`);
  const number = (name: string): number => {
    const field = object[name];
    return typeof field === 'number'
      ? field
      : fail('format', `invalid wrapped key: field '${name}' is not a number`);
  };
  const bytes = (name: string, size: number): Buffer => {
    const field = object[name];
    const decoded = typeof field === 'string' ? Buffer.from(field, 'base64') : undefined;
    if (decoded?.length !== size || decoded.toString('base64') !== field) {
      fail('format', `invalid wrapped key: field '${name}' is not ${size} bytes of base64`);
    }
    return decoded;
  };
  const parameters = { n: number('n'), r: number('r'), p: number('p') };
  checkParameters(parameters);
  return {
    ...parameters,
    salt: bytes('salt', SALT_SIZE),
    iv: bytes('iv', IV_SIZE),
    tag: bytes('tag', TAG_SIZE),
    data: bytes('data', KEY_SIZE),
  };
}
