// The asynchronous archiving spool: its directories, and the status files the background processes leave there.
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ERROR_CODES,
  errnoOf,
  isPgStashError,
  PgStashError,
  reasonOf,
  type ErrorKind,
} from '../../../common/errors.js';
import { log } from '../../../common/log.js';

/**
 * `<spool-path>/archive/<stanza>/out/<system id>`: archive-push's status files, one per WAL file (pgBackRest's
 * layout, keyed by the system identifier of the archiving cluster, read from its pg_control): an `.ok` left by
 * another cluster archiving into the same stanza before (a new initdb starts again at the same segment names) can
 * never acknowledge this cluster's segment.
 */
export function pushSpoolDir(spoolPath: string, stanza: string, systemId: bigint): string {
  return join(spoolPath, 'archive', stanza, 'out', systemId.toString());
}

/**
 * `<spool-path>/archive/<stanza>/in/<system id>`: archive-get's prefetched segments and status files. Keyed by
 * the system identifier of the cluster being recovered (read from its pg_control), so a spool left by another
 * cluster recovering into the same stanza is never served. Segment names carry their timeline.
 */
export function getSpoolDir(spoolPath: string, stanza: string, systemId: bigint): string {
  return join(spoolPath, 'archive', stanza, 'in', systemId.toString());
}

/** The background process's failure as a whole (unable to open the repository...), for every segment. */
export const GLOBAL_STATUS = 'global';

/** A segment's outcome: `ok` (stored, or for archive-get: not in the archive), or `error` with its code. */
export type SpoolStatus =
  | { readonly kind: 'ok'; readonly message: string | undefined; readonly written: number }
  | { readonly kind: 'error'; readonly code: number; readonly message: string; readonly written: number };

/**
 * Parses a status file's content, as pgBackRest writes it: empty, or `<code>\n<message>`. An `.ok` may carry a
 * warning (code 0, e.g. a dropped segment); an `.error` must carry a non-zero code and a message. Anything else is
 * a damaged file: fileInvalid (28).
 */
export function parseStatus(kind: 'ok' | 'error', content: string, file: string, written = 0): SpoolStatus {
  const newline = content.indexOf('\n');
  const codeText = newline < 0 ? content : content.slice(0, newline);
  const message = newline < 0 ? '' : content.slice(newline + 1).trimEnd();
  if (content === '' && kind === 'ok') return { kind, message: undefined, written };
  const code = /^\d{1,3}$/.test(codeText) ? Number(codeText) : NaN;
  if (kind === 'ok' && code === 0) return { kind, message: message === '' ? undefined : message, written };
  if (kind === 'error' && code > 0 && message !== '') return { kind, code, message, written };
  throw new PgStashError('fileInvalid', `invalid status file '${file}': '${content.slice(0, 80)}'`, {
    hint: 'remove the file: the background process writes it again',
  });
}

/** The content of a status file (see parseStatus). */
export function formatStatus(status: { code: number; message?: string | undefined }): string {
  return status.message === undefined && status.code === 0 ? '' : `${status.code}\n${status.message ?? ''}\n`;
}

/** The error a foreground command fails with for an `.error` status: its code and message as recorded. */
export function statusError(status: { code: number; message: string }): PgStashError {
  const kind = (Object.keys(ERROR_CODES) as ErrorKind[]).find(
    (name) => ERROR_CODES[name].code === status.code,
  );
  return new PgStashError(kind ?? 'runtime', status.message);
}

/** Reads `<name>.ok` or `<name>.error` in `dir` (ok first); undefined when neither exists. */
export async function readStatus(dir: string, name: string): Promise<SpoolStatus | undefined> {
  for (const kind of ['ok', 'error'] as const) {
    const file = join(dir, `${name}.${kind}`);
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') continue;
      throw error;
    }
    try {
      const [content, stats] = await Promise.all([handle.readFile('utf8'), handle.stat()]);
      return parseStatus(kind, content, file, stats.mtimeMs);
    } finally {
      await handle.close();
    }
  }
  return undefined;
}

/**
 * readStatus, for the foreground commands: a damaged status file (a crash of the machine before it reached the
 * disk) is removed with a warning and taken as none, so the background process writes it again.
 */
export async function readStatusOrClear(dir: string, name: string): Promise<SpoolStatus | undefined> {
  try {
    return await readStatus(dir, name);
  } catch (error) {
    if (!isPgStashError(error, 'fileInvalid')) throw error;
    log.warn(`${error.message}: removed`);
    await clearStatus(dir, name);
    return undefined;
  }
}

/**
 * Writes `<name>.ok` or `<name>.error` whole (a temp name renamed into place) and removes the other kind. A kill
 * leaves at most a temp file, never a half-written status.
 */
export async function writeStatus(
  dir: string,
  name: string,
  status: { kind: 'ok' | 'error'; code: number; message?: string | undefined },
): Promise<void> {
  // Imported here: the foreground commands only read statuses, and node:crypto costs a process ~2 ms to load.
  const { randomBytes } = await import('node:crypto');
  const file = join(dir, `${name}.${status.kind}`);
  const temp = join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeWhole(temp, formatStatus(status));
    await rename(temp, file);
  } finally {
    await rm(temp, { force: true });
  }
  await rm(join(dir, `${name}.${status.kind === 'ok' ? 'error' : 'ok'}`), { force: true });
}

async function writeWhole(path: string, content: string): Promise<void> {
  const handle = await open(path, 'wx', 0o640);
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}

/** Removes both status files of `name`. */
export async function clearStatus(dir: string, name: string): Promise<void> {
  await Promise.all(['ok', 'error'].map((kind) => rm(join(dir, `${name}.${kind}`), { force: true })));
}

/** Creates the spool directory `dir` (mode 0750) if missing, or fails with pathCreate (47) naming it. */
export async function makeSpoolDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o750 });
  } catch (error) {
    throw new PgStashError('pathCreate', `unable to create spool directory '${dir}': ${reasonOf(error)}`, {
      hint: 'spool-path must be a directory the PostgreSQL user can write (archive-async=y)',
      cause: error,
    });
  }
}

/** Reads a small text file, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
}
