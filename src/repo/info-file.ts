// Checksummed JSON info files (archive.info, backup.info, manifests, key files), each written twice (`.copy`).
import { createHash } from 'node:crypto';
import { isPgStashError, messageOf, PgStashError } from '../common/errors.js';
import { log } from '../common/log.js';
import { chunksOf } from '../io/chunker.js';
import { copy } from '../io/copy.js';
import { EncryptedWithoutKeyError, refuseEncrypted } from '../io/crypto/no-key.js';
import { decodeStored } from '../io/decode.js';
import { encodeStored } from '../io/encode.js';
import type { Driver } from '../storage/driver.js';
import { copyPathOf } from './layout.js';

const FORMAT = 1;

/** JSON with bigints written as strings: readers convert the fields they know to be 64-bit. */
function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), indent);
}

function checksumOf(kind: string, content: unknown): string {
  return checksumOfJson(toJson({ kind, format: FORMAT, content }));
}

function checksumOfJson(json: string): string {
  return createHash('sha256').update(json).digest('hex');
}

/** Serializes `content` as an info file of `kind` with a checksum over the content. */
export function encodeInfo(kind: string, content: unknown): Buffer {
  const text = toJson({ kind, format: FORMAT, content, checksum: checksumOf(kind, content) }, 1);
  return Buffer.from(`${text}\n`);
}

/** Parses and verifies an info file; throws checksum (26) or format (29) naming `where`. */
export function decodeInfo(kind: string, data: Buffer, where: string): unknown {
  let parsed: { kind?: unknown; format?: unknown; content?: unknown; checksum?: unknown };
  try {
    parsed = JSON.parse(data.toString('utf8')) as typeof parsed;
  } catch (error) {
    throw new PgStashError('format', `invalid ${kind} file '${where}': ${messageOf(error)}`);
  }
  if (parsed.kind !== kind) {
    throw new PgStashError('format', `file '${where}' is not a ${kind} file (kind '${String(parsed.kind)}')`);
  }
  if (parsed.format !== FORMAT) {
    throw new PgStashError(
      'format',
      `${kind} file '${where}' has unsupported format '${String(parsed.format)}'`,
      {
        hint: 'is this repository written by a newer pgstash?',
      },
    );
  }
  // Parsed content holds no bigint, so JSON.stringify without toJson's replacer gives the same text: a replacer
  // costs a call into JavaScript per value, and a restore's manifest has tens of thousands (measured: 5-10x slower).
  if (parsed.checksum !== checksumOfJson(JSON.stringify({ kind, format: FORMAT, content: parsed.content }))) {
    throw new PgStashError('checksum', `${kind} file '${where}' is corrupt: checksum mismatch`);
  }
  return parsed.content;
}

/** Info files are not compressed; with a key they are encrypted, through the chunk loop as any repository file. */
const UNCOMPRESSED = { type: 'none', level: 0 } as const;

async function writeRaw(driver: Driver, path: string, data: Buffer, key: Buffer | undefined): Promise<void> {
  await copy(encodeStored(chunksOf(data), { compress: UNCOMPRESSED, key }), await driver.openWrite(path));
}

async function readRaw(driver: Driver, path: string, key: Buffer | undefined): Promise<Buffer | undefined> {
  const stored = await driver.read(path);
  if (stored === undefined) return stored;
  // An info file is JSON: one that starts like an encrypted file is one, read without a key (an unencrypted
  // configuration against an encrypted stanza: every command reads an info file first, this is where it stops).
  if (key === undefined) {
    refuseEncrypted(stored, `${driver.location}/${path}`);
    return stored;
  }
  // Info files are not compressed: decodeStored only decrypts.
  const pieces: Buffer[] = [];
  for await (const piece of decodeStored([stored], { compressType: 'none', key, lz4OnPool: false }))
    pieces.push(piece);
  return Buffer.concat(pieces);
}

/**
 * Writes the file and then its `.copy` twin, so a crash between the two always leaves one good version. With
 * `copy: false` only the file (what may be lost: a running backup's progress record).
 */
export async function writeInfoFile(
  driver: Driver,
  path: string,
  options: { kind: string; content: unknown; key?: Buffer | undefined; copy?: boolean },
): Promise<void> {
  const data = encodeInfo(options.kind, options.content);
  await writeRaw(driver, path, data, options.key);
  if (options.copy !== false) await writeRaw(driver, copyPathOf(path), data, options.key);
}

/**
 * Reads an info file, falling back to its `.copy` when the main file is missing or invalid.
 * Resolves to undefined when neither exists; throws the main file's error when both are unusable.
 */
export async function readInfoFile(
  driver: Driver,
  path: string,
  options: { kind: string; key?: Buffer | undefined },
): Promise<unknown> {
  let mainError: unknown;
  for (const candidate of [path, copyPathOf(path)]) {
    const where = `${driver.location}/${candidate}`;
    try {
      const data = await readRaw(driver, candidate, options.key);
      if (data === undefined) continue;
      const content = decodeInfo(options.kind, data, where);
      if (mainError !== undefined || candidate !== path) {
        log.warn(`${options.kind} file '${driver.location}/${path}' is missing or invalid: using its copy`);
      }
      return content;
    } catch (error) {
      // The copy is encrypted as well: no second read.
      if (!isPgStashError(error) || error instanceof EncryptedWithoutKeyError) throw error;
      mainError ??= error;
    }
  }
  if (mainError !== undefined) throw mainError;
  return undefined;
}

/**
 * Checks one stored copy of an info file on its own (verify: the main file and its `.copy` each): undefined when
 * it reads and its checksum matches, 'missing' when it is not there, else the error.
 */
export async function checkInfoFile(
  driver: Driver,
  path: string,
  options: { kind: string; key?: Buffer | undefined },
): Promise<'missing' | PgStashError | undefined> {
  try {
    const data = await readRaw(driver, path, options.key);
    if (data === undefined) return 'missing';
    decodeInfo(options.kind, data, `${driver.location}/${path}`);
    return undefined;
  } catch (error) {
    if (!isPgStashError(error)) throw error;
    return error;
  }
}
