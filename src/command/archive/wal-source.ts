// The WAL file a server hands to archive-push: its resolved path, kind, and the cluster its header names.
import { open } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { errnoOf, PgStashError, reasonOf } from '../../common/errors.js';
import { readWalSegmentHeader } from '../../postgres/wal-header.js';
import { parseWalFileName, type WalFileName } from '../../postgres/wal-name.js';

export interface WalSource {
  readonly path: string;
  readonly name: string;
  readonly kind: WalFileName;
  /** From the segment's long page header; undefined for history and backup files, which have none. */
  readonly cluster?: { readonly pgVersion: string | undefined; readonly systemId: bigint };
}

/** Parses a WAL file name or fails naming it (paramInvalid, 96). */
export function requireWalFileName(name: string): WalFileName {
  const kind = parseWalFileName(name);
  if (kind === undefined) {
    throw new PgStashError('paramInvalid', `'${name}' is not a WAL file name`, {
      hint: 'archive-push takes %p and archive-get takes %f "%p" from PostgreSQL',
    });
  }
  return kind;
}

/**
 * Resolves `%p` and reads its header. PostgreSQL runs archive_command in the data directory with `%p` relative to
 * it, so a relative path is resolved against the working directory.
 */
export async function openWalSource(walPath: string): Promise<WalSource> {
  const path = resolve(walPath);
  const name = basename(path);
  const kind = requireWalFileName(name);
  // Every kind is opened here, so a missing or unreadable file is a clear error before any repository work.
  const handle = await open(path, 'r').catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT')
      throw new PgStashError('fileMissing', `WAL file '${path}' does not exist`);
    throw new PgStashError('fileOpen', `unable to open WAL file '${path}': ${reasonOf(error)}`);
  });
  try {
    // History and backup history files are text: only segments carry a page header naming the cluster.
    if (kind.kind !== 'segment' && kind.kind !== 'partial') return { path, name, kind };
    const head = Buffer.alloc(64);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const header = readWalSegmentHeader(head.subarray(0, bytesRead), path);
    return { path, name, kind, cluster: { pgVersion: header.pgVersion, systemId: header.systemId } };
  } finally {
    await handle.close();
  }
}
