// verify's ledger: each repository file the last verify that passed read, so `verify --since-last` skips what is unchanged.
//
// The ledger is two files in the stanza's backup directory: its lines (`verify.ledger.<token>`, one JSON array per
// file: repository path, stored size, mtime, the SHA-256 the file was checked against and, when that verify decoded
// it, the SHA-256 of its stored bytes and its original size; in ascending path order),
// written through the chunk loop (encrypted like any repository file), and a pointer to them (`verify.ledger`, an
// info file with its `.copy`: token, SHA-256 and size of the lines). The pointer is written last, so a verify killed
// while writing leaves the previous ledger in force; the old lines are removed after. Both are streamed: a ledger
// of millions of files is never in memory.
import { randomBytes } from 'node:crypto';
import { ERROR_CODES, isPgStashError, messageOf, PgStashError } from '../common/errors.js';
import { log } from '../common/log.js';
import { wholeChunks } from '../io/chunker.js';
import { readInfoFile, writeInfoFile } from './info-file.js';
import { repoLayout } from './layout.js';
import type { Repository, StoredFile } from './repository.js';
import { problemOf, readThrough } from './verify-files.js';

const KIND = 'verify.ledger';
const UNCOMPRESSED = { type: 'none', level: 0 } as const;

/** One verified repository file as the ledger records it. */
export interface LedgerEntry {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly sha256: string;
  /**
   * The SHA-256 of the stored bytes (as they are in the repository: compressed, encrypted) and the original size, of
   * a file a verify decoded and found sound: bytes still hashing to it decode to the same sound content, so a later
   * verify hashes just them (verify-files.ts, storedMatches). Absent in lines of older ledgers.
   */
  readonly stored?: { readonly sha256: string; readonly size: number };
}

interface LedgerPointer {
  readonly token: string;
  readonly sha256: string;
  readonly size: number;
  /** When the verify that wrote it ended (epoch ms). */
  readonly written: number;
}

function parsePointer(raw: unknown, where: string): LedgerPointer {
  const value = raw as Partial<LedgerPointer> | undefined;
  if (
    typeof value?.token !== 'string' ||
    !/^[0-9a-f]{16}$/.test(value.token) ||
    typeof value.sha256 !== 'string' ||
    typeof value.size !== 'number' ||
    typeof value.written !== 'number'
  )
    throw new PgStashError('format', `invalid verify ledger pointer '${where}'`);
  return value as LedgerPointer;
}

function parseLine(line: string, where: string): LedgerEntry {
  const value = JSON.parse(line) as unknown;
  if (
    !Array.isArray(value) ||
    typeof value[0] !== 'string' ||
    typeof value[1] !== 'number' ||
    typeof value[2] !== 'number' ||
    typeof value[3] !== 'string' ||
    (value.length > 4 && (typeof value[4] !== 'string' || typeof value[5] !== 'number'))
  )
    throw new PgStashError('format', `invalid line in verify ledger '${where}'`);
  const entry = { path: value[0], size: value[1], mtimeMs: value[2], sha256: value[3] };
  return value.length > 4
    ? { ...entry, stored: { sha256: value[4] as string, size: value[5] as number } }
    : entry;
}

async function readPointer(repo: Repository): Promise<LedgerPointer | undefined> {
  const path = repoLayout.verifyLedgerInfo(repo.stanza);
  const raw = await readInfoFile(repo.driver, path, { kind: KIND, key: await repo.requireKey() });
  return raw === undefined ? undefined : parsePointer(raw, `${repo.location}/${path}`);
}

/** Whether `file` (a repository path, or 'verify.ledger' as verify reports the ledger) is the ledger or its pointer. */
export function isLedgerFile(stanza: string, file: string): boolean {
  return file === 'verify.ledger' || file.startsWith(repoLayout.verifyLedgerInfo(stanza));
}

/**
 * Reads the ledger in force to its end against its pointer (a verify without --since-last: with it, LedgerCursor
 * reads it). Undefined when it is sound or there is none (or its pointer cannot be read: the pointer's copies are
 * checked as info files); else the problem with the ledger's lines.
 */
export async function checkLedgerLines(
  repo: Repository,
): Promise<{ file: string; message: string; code: number } | undefined> {
  const pointer = await readPointer(repo).catch(() => undefined);
  if (pointer === undefined) return undefined;
  const path = repoLayout.verifyLedgerData(repo.stanza, pointer.token);
  try {
    const size = await readThrough(repo, { path, expect: { sha256: pointer.sha256, size: pointer.size } });
    if (size !== 'missing') return undefined;
    return {
      file: path,
      message: `verify ledger '${repo.location}/${path}' is missing`,
      code: ERROR_CODES.fileMissing.code,
    };
  } catch (error) {
    return { file: path, ...problemOf(error) };
  }
}

/**
 * The last ledger, read forward: `lookup(path)` with paths in ascending order (a path asked out of order is simply
 * not found: the file is then read again, never trusted wrongly). The ledger's own checksum is known only at its
 * end: `close()` reads the rest and resolves to the error when it does not match (the caller reports it).
 */
export class LedgerCursor {
  readonly #lines: AsyncGenerator<string>;
  readonly #where: string;
  #current: LedgerEntry | undefined;
  #done = false;
  #error: PgStashError | undefined;
  /** When the verify that wrote it ended. */
  readonly written: number;

  private constructor(lines: AsyncGenerator<string>, where: string, written: number) {
    this.#lines = lines;
    this.#where = where;
    this.written = written;
  }

  /** The last ledger, or undefined when there is none; a pointer that cannot be read is an error. */
  static async open(repo: Repository): Promise<LedgerCursor | undefined> {
    const pointer = await readPointer(repo);
    if (pointer === undefined) return undefined;
    const path = repoLayout.verifyLedgerData(repo.stanza, pointer.token);
    const chunks = await repo.getChunks(path, { sha256: pointer.sha256, size: pointer.size });
    if (chunks === undefined) {
      throw new PgStashError('fileMissing', `verify ledger '${repo.location}/${path}' is missing`, {
        hint: 'run verify without --since-last: a verify that passes writes a new ledger',
      });
    }
    return new LedgerCursor(linesOf(chunks), `${repo.location}/${path}`, pointer.written);
  }

  /** The entry recorded for `path`, if any. */
  async lookup(path: string): Promise<LedgerEntry | undefined> {
    while (!this.#done && (this.#current === undefined || this.#current.path < path)) await this.#next();
    return this.#current?.path === path ? this.#current : undefined;
  }

  async #next(): Promise<void> {
    try {
      const next = await this.#lines.next();
      if (next.done === true) {
        this.#done = true;
        this.#current = undefined;
      } else this.#current = parseLine(next.value, this.#where);
    } catch (error) {
      this.#done = true;
      this.#current = undefined;
      this.#error = isPgStashError(error)
        ? error
        : new PgStashError('format', `verify ledger '${this.#where}': ${messageOf(error)}`);
    }
  }

  /** Reads to the end (which checks the ledger's checksum): the error when it is damaged. */
  async close(): Promise<PgStashError | undefined> {
    while (!this.#done) await this.#next();
    return this.#error;
  }
}

async function* linesOf(chunks: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let rest = '';
  for await (const chunk of chunks) {
    const text = rest + chunk.toString('utf8');
    const lines = text.split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line !== '') yield line;
  }
  if (rest !== '') yield rest;
}

/**
 * A new ledger being written while verify runs: entries go through a small queue into the repository file
 * (backpressure: add waits while the writer is behind). Nothing is in force until commit(); discard() removes it.
 * A repository verify cannot write to (read-only access) only loses the ledger: a warning, never a failed verify.
 */
export class LedgerWriter {
  readonly #repo: Repository;
  readonly #token = randomBytes(8).toString('hex');
  readonly #queue: string[] = [];
  #wake: (() => void) | undefined;
  #room: (() => void) | undefined;
  #closed = false;
  #failed: unknown;
  #last = '';
  readonly #stored: Promise<StoredFile | undefined>;

  constructor(repo: Repository) {
    this.#repo = repo;
    const stored = repo.putChunks(wholeChunks(this.#pieces()), this.#path, UNCOMPRESSED);
    this.#stored = stored.catch((error: unknown) => {
      this.#failed = error;
      this.#room?.();
      return undefined;
    });
  }

  get #path(): string {
    return repoLayout.verifyLedgerData(this.#repo.stanza, this.#token);
  }

  async *#pieces(): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.#queue.length > 0) {
        const text = this.#queue.splice(0).join('');
        this.#room?.();
        yield Buffer.from(text);
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  /** Records a verified file; entries must come in ascending path order (one out of order is left out). */
  async add(entry: LedgerEntry): Promise<void> {
    if (this.#failed !== undefined || this.#closed || entry.path <= this.#last) return;
    this.#last = entry.path;
    const line = [entry.path, entry.size, entry.mtimeMs, entry.sha256];
    if (entry.stored !== undefined) line.push(entry.stored.sha256, entry.stored.size);
    this.#queue.push(`${JSON.stringify(line)}\n`);
    this.#wake?.();
    if (this.#queue.length >= 1024 && this.#failed === undefined)
      await new Promise<void>((resolve) => (this.#room = resolve));
    this.#room = undefined;
  }

  async #finish(): Promise<StoredFile | undefined> {
    this.#closed = true;
    this.#wake?.();
    return this.#stored;
  }

  /** Puts the new ledger in force and removes the previous one's lines; false (with a warning) when it failed. */
  async commit(): Promise<boolean> {
    const previous = await readPointer(this.#repo).catch(() => undefined);
    const stored = await this.#finish();
    if (stored === undefined) {
      log.warn(`${this.#repo.name}: the verify ledger could not be written: ${messageOf(this.#failed)}`);
      await this.#repo.driver.remove(this.#path).catch(() => undefined);
      return false;
    }
    try {
      await writeInfoFile(this.#repo.driver, repoLayout.verifyLedgerInfo(this.#repo.stanza), {
        kind: KIND,
        content: { token: this.#token, sha256: stored.sha256, size: stored.size, written: Date.now() },
        key: await this.#repo.requireKey(),
      });
    } catch (error) {
      log.warn(`${this.#repo.name}: the verify ledger could not be written: ${messageOf(error)}`);
      await this.#repo.driver.remove(this.#path).catch(() => undefined);
      return false;
    }
    if (previous !== undefined && previous.token !== this.#token)
      await this.#repo.driver.remove(repoLayout.verifyLedgerData(this.#repo.stanza, previous.token));
    return true;
  }

  /** Drops the ledger being written: the previous one stays in force. */
  async discard(): Promise<void> {
    await this.#finish();
    await this.#repo.driver.remove(this.#path).catch(() => undefined);
  }
}
