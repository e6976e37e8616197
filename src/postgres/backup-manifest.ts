// Writes PostgreSQL's own backup_manifest (format version 1, PostgreSQL 13+) so that pg_verifybackup can check a restore.
//
// The text layout follows src/backend/backup/backup_manifest.c byte for byte: pg_verifybackup checks the
// "Manifest-Checksum", a SHA-256 over every byte before the line that holds it, so the layout is part of the
// format, not a matter of taste. The manifest is streamed: entries are written in batches as the file list is
// iterated, and only the running checksum spans the whole document.
import { createHash } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errnoOf, fail, isPgStashError, messageOf } from '../common/errors.js';
import { formatLsn, parseLsn } from './lsn.js';

export interface PgManifestFile {
  /**
   * Relative to the data directory, '/'-separated; tablespace files as 'pg_tblspc/<oid>/PG_15_.../...'. A name
   * that is not valid UTF-8 can be given as its raw bytes: it is then written hex-encoded ("Encoded-Path").
   */
  path: string | Uint8Array;
  size: number;
  /** Modification time in seconds since the epoch. */
  mtime: number;
  /** SHA-256 of the content, hex. */
  sha256: string;
}

export interface PgManifestOptions {
  files: AsyncIterable<PgManifestFile> | Iterable<PgManifestFile>;
  /** Timeline of the backup (start and end: a backup taken on one timeline). */
  timeline: number;
  /** The LSNs pg_backup_start and pg_backup_stop returned, e.g. '0/2000028'. */
  startLsn: string;
  endLsn: string;
}

/** Output is handed on in chunks of about this size. */
const BATCH_BYTES = 64 * 1024;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
/** With the u flag a paired surrogate is one code point, so this finds only unpaired halves. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Writes the manifest to `output`: a Writable (ended here; destroyed if the file list fails, so that a storage
 * driver aborts the write) or a file path (written to a temp file beside it, fsynced, then renamed into place).
 */
export async function writePgBackupManifest(
  output: Writable | string,
  options: PgManifestOptions,
): Promise<void> {
  checkOptions(options);
  const source = Readable.from(manifestChunks(options), { objectMode: false });
  if (typeof output !== 'string') {
    await pipeline(source, output);
    return;
  }
  const temp = `${output}.tmp`;
  try {
    const handle = await open(temp, 'w', 0o600);
    try {
      // Written through the handle rather than handle.createWriteStream(): that stream keeps a reference to
      // the handle until it closes it itself, and the fsync below must come before the close.
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback): void {
          writeAll(handle, chunk).then(() => callback(), callback);
        },
      });
      await pipeline(source, sink);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, output);
    const dir = await open(dirname(output), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    // Our own checks and the caller's file list fail as they are; a file system error says which file.
    if (isPgStashError(error) || errnoOf(error) === undefined) throw error;
    fail('fileWrite', `unable to write backup manifest '${output}': ${messageOf(error)}`);
  }
}

/** write(2) may take less than it is given: loop until the whole chunk is in the file. */
async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

function checkOptions(options: PgManifestOptions): void {
  if (!Number.isInteger(options.timeline) || options.timeline < 1 || options.timeline > 0xffffffff) {
    fail('paramInvalid', `invalid timeline '${String(options.timeline)}' for the backup manifest`);
  }
  if (parseLsn(options.endLsn) < parseLsn(options.startLsn)) {
    fail('paramInvalid', `backup end LSN '${options.endLsn}' is before start LSN '${options.startLsn}'`);
  }
}

/** The manifest text in chunks: the header, one line per file, the WAL range, then the checksum line. */
async function* manifestChunks(options: PgManifestOptions): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let batch = '';
  const take = (): Buffer => {
    const chunk = Buffer.from(batch, 'utf8');
    hash.update(chunk);
    batch = '';
    return chunk;
  };

  batch += '{ "PostgreSQL-Backup-Manifest-Version": 1,\n"Files": [';
  let first = true;
  for await (const file of options.files) {
    // Each entry ends the previous line: no comma before the first entry nor after the last.
    batch += first ? '\n' : ',\n';
    first = false;
    batch += fileLine(file);
    if (batch.length >= BATCH_BYTES) yield take();
  }
  batch += '\n],\n';
  const start = formatLsn(parseLsn(options.startLsn));
  const end = formatLsn(parseLsn(options.endLsn));
  batch += `"WAL-Ranges": [\n{ "Timeline": ${String(options.timeline)}, "Start-LSN": "${start}", "End-LSN": "${end}" }\n],\n`;
  yield take();
  yield Buffer.from(`"Manifest-Checksum": "${hash.digest('hex')}"}\n`, 'utf8');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fileLine(file: PgManifestFile): string {
  if (!Number.isSafeInteger(file.size) || file.size < 0) {
    fail(
      'paramInvalid',
      `invalid size '${String(file.size)}' of '${displayPath(file.path)}' for the backup manifest`,
    );
  }
  if (!SHA256_HEX.test(file.sha256)) {
    fail(
      'paramInvalid',
      `invalid SHA-256 '${file.sha256}' of '${displayPath(file.path)}' for the backup manifest`,
    );
  }
  let path: string;
  if (typeof file.path === 'string') {
    // A string with a lone surrogate has no UTF-8 form: no file on disk can have that name.
    if (LONE_SURROGATE.test(file.path))
      fail('paramInvalid', `invalid path '${file.path}' for the backup manifest`);
    path = `"Path": ${JSON.stringify(file.path)}`;
  } else {
    const decoded = decodeUtf8(file.path);
    path =
      decoded === undefined
        ? `"Encoded-Path": "${Buffer.from(file.path).toString('hex')}"`
        : `"Path": ${JSON.stringify(decoded)}`;
  }
  return (
    `{ ${path}, "Size": ${String(file.size)}, "Last-Modified": "${gmtTime(file.mtime)}", ` +
    `"Checksum-Algorithm": "SHA256", "Checksum": "${file.sha256.toLowerCase()}" }`
  );
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function displayPath(path: string | Uint8Array): string {
  return typeof path === 'string' ? path : Buffer.from(path).toString('utf8');
}

/** 'YYYY-MM-DD HH:MM:SS GMT', as PostgreSQL's strftime("%Y-%m-%d %H:%M:%S %Z") of gmtime gives it. */
function gmtTime(epochSeconds: number): string {
  const date = new Date(Math.floor(epochSeconds) * 1000);
  if (Number.isNaN(date.getTime()))
    fail('paramInvalid', `invalid modification time '${String(epochSeconds)}'`);
  const pad = (value: number): string => String(value).padStart(2, '0');
  return (
    `${String(date.getUTCFullYear()).padStart(4, '0')}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} GMT`
  );
}
