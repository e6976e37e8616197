// What verify reads in a repository, file by file: a backup's stored files and WAL files, read
// back through the chunk loop (checksums, sizes, authentication) without writing anything anywhere. Info files:
// verify-info-files.ts.
import { createHash } from 'node:crypto';
import { isPgStashError } from '../common/errors.js';
import { compressExtension } from '../io/compress.js';
import { repoLayout } from './layout.js';
import {
  blockMapPath,
  bundleMemberName,
  isEmptyFile,
  storedFilePath,
  storedFileRead,
  type BlockPart,
  type Manifest,
  type ManifestFile,
} from './manifest.js';
import type { ReadExpectation, Repository } from './repository.js';

/** One repository file to read and what it must hold. */
export interface StoredCheck {
  /**
   * The repository path (relative to the repository root); for a bundled file, `<bundle>/<member>`, which names
   * both in a report (and in the ledger), the data being read from `object`.
   */
  readonly path: string;
  readonly expect: ReadExpectation;
  /** The object holding the data when it is not `path`: a bundled file's bundle (read by range, expect.member). */
  readonly object?: string | undefined;
}

/** How verify names a bundled file: its bundle's path and its member's name. */
function bundledCheckPath(stanza: string, file: ManifestFile): string {
  return `${storedFilePath(stanza, file)}/${bundleMemberName(file)}`;
}

/** Where the blocks `part` stored of file `name` are. */
function partPath(stanza: string, name: string, part: BlockPart): string {
  return repoLayout.backupFile(stanza, part.holder, name, compressExtension(part.compressType));
}

/**
 * The repository files backup `manifest` itself holds (its directory's data: files it copied, block maps it
 * wrote, the blocks it stored), each once, in ascending path order. Files it takes from other backups are
 * those backups' own: verify reads each repository file once, however many backups use it. `holds` widens that
 * to other holders (a holder whose own manifest cannot be read: its files are checked as this one records them).
 */
export function ownStoredFiles(
  stanza: string,
  manifest: Manifest,
  holds: (holder: string) => boolean = (holder) => holder === manifest.backup.label,
): StoredCheck[] {
  const checks = new Map<string, StoredCheck>();
  for (const file of manifest.files) {
    const { block } = file.stored;
    if (isEmptyFile(file)) continue;
    if (file.stored.bundle !== undefined) {
      if (!holds(file.stored.holder)) continue;
      const { path: object, expect } = storedFileRead(stanza, file);
      const path = bundledCheckPath(stanza, file);
      checks.set(path, { path, expect, object });
      continue;
    }
    if (block === undefined) {
      if (!holds(file.stored.holder)) continue;
      checks.set(storedFilePath(stanza, file), {
        path: storedFilePath(stanza, file),
        expect: {
          sha256: file.sha256,
          size: file.size,
          storedSize: file.stored.size,
          encrypted: file.stored.cipher !== 'none',
        },
      });
      continue;
    }
    if (holds(file.stored.holder)) {
      const path = blockMapPath(stanza, file);
      checks.set(path, {
        path,
        expect: {
          sha256: block.map.sha256,
          size: block.map.size,
          storedSize: block.map.storedSize,
          encrypted: file.stored.cipher !== 'none',
        },
      });
    }
    for (const part of block.parts) {
      if (!holds(part.holder)) continue;
      const path = partPath(stanza, file.name, part);
      checks.set(path, {
        path,
        expect: {
          sha256: part.sha256,
          size: part.originalSize,
          storedSize: part.size,
          encrypted: part.cipher !== 'none',
        },
      });
    }
  }
  return [...checks.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Every repository file a restore of `file` reads, with the backup holding it. */
export function filesRead(stanza: string, file: ManifestFile): { path: string; holder: string }[] {
  const { block } = file.stored;
  if (isEmptyFile(file)) return [];
  if (file.stored.bundle !== undefined)
    return [{ path: bundledCheckPath(stanza, file), holder: file.stored.holder }];
  if (block === undefined) return [{ path: storedFilePath(stanza, file), holder: file.stored.holder }];
  return [
    { path: blockMapPath(stanza, file), holder: file.stored.holder },
    ...block.parts.map((part) => ({ path: partPath(stanza, file.name, part), holder: part.holder })),
  ];
}

/** Reads a repository file to its end through the chunk loop: its original size, or 'missing'. Damage throws. */
export async function readThrough(repo: Repository, check: StoredCheck): Promise<number | 'missing'> {
  const chunks = await repo.getChunks(check.object ?? check.path, check.expect);
  if (chunks === undefined) return 'missing';
  let size = 0;
  for await (const chunk of chunks) size += chunk.length;
  return size;
}

/** A file read to its end and found sound: its original size and the SHA-256 of its stored bytes. */
export interface DecodedFile {
  readonly size: number;
  readonly storedSha256: string;
}

/** readThrough that also hashes the stored bytes as they are read (what the ledger records of a decoded file). */
export async function readDecoded(repo: Repository, check: StoredCheck): Promise<DecodedFile | 'missing'> {
  const stored = createHash('sha256');
  const size = await readThrough(repo, {
    ...check,
    expect: { ...check.expect, onStored: (piece) => stored.update(piece) },
  });
  return size === 'missing' ? 'missing' : { size, storedSha256: stored.digest('hex') };
}

/**
 * Whether the stored bytes of `check` (a bundled file's: its range of the bundle) hash to `storedSha256`, recorded
 * when a verify decoded them and found them sound: bytes that still do decode to the same sound content, so they
 * need not be decrypted and decompressed again. 'missing' when the file is not there. Anything else (a mismatch, a
 * read error) is false: the caller then decodes the file, which names the damage as a first read would.
 */
export async function storedMatches(
  repo: Repository,
  check: StoredCheck,
  storedSha256: string,
): Promise<boolean | 'missing'> {
  const { member, storedSize } = check.expect;
  const range =
    member === undefined
      ? {}
      : { offset: member.offset, ...(storedSize === undefined ? {} : { limit: storedSize }) };
  const hash = createHash('sha256');
  let length = 0;
  try {
    const source = await repo.driver.openRead(check.object ?? check.path, range);
    if (source === undefined) return 'missing';
    for await (const piece of source as AsyncIterable<Buffer>) {
      hash.update(piece);
      length += piece.length;
    }
  } catch (error) {
    if (!isPgStashError(error)) throw error;
    return false;
  }
  return (storedSize === undefined || length === storedSize) && hash.digest('hex') === storedSha256;
}

/** The stored size and modification time of a repository file (what the ledger compares), or undefined. */
export async function storedStat(
  repo: Repository,
  path: string,
): Promise<{ size: number; mtimeMs: number } | undefined> {
  const info = await repo.driver.info(path);
  return info === undefined || info.type !== 'file' ? undefined : { size: info.size, mtimeMs: info.mtimeMs };
}

/** A read failure as verify reports it; anything that is not a PgStashError is a bug and goes on. */
export function problemOf(error: unknown): { message: string; code: number } {
  if (!isPgStashError(error)) throw error;
  return { message: error.message, code: error.code };
}
