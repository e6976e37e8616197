// backup.manifest: everything a restore needs about one backup — cluster, WAL range, targets, paths, links, files.
import { PgStashError } from '../common/errors.js';
import { compressExtension, type CompressType } from '../io/compress.js';
import type { Driver } from '../storage/driver.js';
import type { BackupSpan } from './backup-info.js';
import { decodeInfo, encodeInfo, readInfoFile, writeInfoFile } from './info-file.js';
import { repoLayout } from './layout.js';
import { MANIFEST_VERSION, parseManifest } from './manifest-parse.js';
import type { ReadExpectation } from './repository.js';

const KIND = 'backup.manifest';

/** Where files come from: the data directory, or one tablespace (reached through pg_tblspc/<oid>). */
export interface ManifestTarget {
  /** 'pg_data' or 'pg_tblspc/<oid>': the prefix of every name under this target. */
  readonly name: string;
  readonly type: 'path' | 'link';
  /** Absolute location on the backed-up host. */
  readonly path: string;
  readonly tablespaceOid?: number;
  readonly tablespaceName?: string;
}

export interface ManifestOwner {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly user?: string | undefined;
  readonly group?: string | undefined;
}

export interface ManifestPath extends ManifestOwner {
  readonly name: string;
}

export interface ManifestLink extends Omit<ManifestOwner, 'mode'> {
  readonly name: string;
  readonly destination: string;
}

export type CipherType = 'none' | 'aes-256-gcm';

/**
 * How new files of one backup are stored: in its own directory, with its compression and the repository's cipher.
 */
export interface FileStorage {
  /**
   * Label of the backup whose directory holds the data: this backup's own, or for a file a diff/incr did not copy
   * again, the backup that did copy it (always the holder itself, never a backup that references it in turn).
   */
  readonly holder: string;
  readonly compressType: CompressType;
  readonly compressLevel: number;
  readonly cipher: CipherType;
}

/**
 * How and where one file's data is stored: a reference to an older backup keeps that backup's compression even
 * after compress-type changed. Later formats add a bundle (id, offset, length) and a block map here.
 */
export interface ManifestStored extends FileStorage {
  /**
   * Bytes as stored (compressed, encrypted) in the holder's directory; for a block-stored file, its block map and
   * the blocks the holder stored.
   */
  readonly size: number;
  /** Set when the file is stored as blocks (repoN-block): its map is held by `holder`, its blocks by the parts. */
  readonly block?: ManifestBlocks | undefined;
  /**
   * Set (true) for a file of size 0: nothing is stored and there is no repository object (`size` is 0). A reader
   * that does not know the field refuses the manifest rather than look for an object that is not there.
   */
  readonly empty?: true | undefined;
  /**
   * Set when the file is a member of a bundle of `holder` (repoN-bundle): its `size` stored bytes are at `offset`
   * of bundle `id` (repoLayout.bundle), a tar member named after the file plus its compress type's extension.
   */
  readonly bundle?: ManifestBundle | undefined;
}

/** Where a bundled file's stored bytes are: which bundle of the holder, from which byte. */
export interface ManifestBundle {
  readonly id: number;
  readonly offset: number;
}

/**
 * The blocks one backup stored of a block-stored file, in file order, at that backup's storedFilePath: the blocks
 * of this version that changed against the version before, with that backup's compression and cipher.
 */
export interface BlockPart extends FileStorage {
  /** Bytes as stored. */
  readonly size: number;
  /** Bytes of the blocks (a whole number of blocks, the file's last one perhaps shorter). */
  readonly originalSize: number;
  /** SHA-256 of those bytes. */
  readonly sha256: string;
  /**
   * Original bytes of each compressed frame but the last (lz4, zst: EncodeOptions.frameSize, else a chunk), so
   * restore decodes only the frames holding blocks it needs (block-read.ts). Absent in parts stored before it was
   * recorded: those are decoded whole.
   */
  readonly frameSize?: number | undefined;
}

/** How a file stored as blocks is put together (repo/block-map.ts, repo/block-read.ts). */
export interface ManifestBlocks {
  readonly blockSize: number;
  /** The block map, stored in the holder's directory (repoLayout.blockMap) as the holder stores files. */
  readonly map: { readonly size: number; readonly sha256: string; readonly storedSize: number };
  /** The backups holding the file's blocks, each at most once; the map refers to them by index. */
  readonly parts: readonly BlockPart[];
}

export interface ManifestFile extends ManifestOwner {
  /** Name under the backup root, e.g. 'pg_data/base/1/1259'; stored where `stored` says (storedFilePath). */
  readonly name: string;
  /** Size of the original. */
  readonly size: number;
  /** Modification time, epoch seconds. */
  readonly mtime: number;
  /** SHA-256 of the original content. */
  readonly sha256: string;
  /** Page numbers that failed PostgreSQL page checksum verification while copying. */
  readonly pageChecksumErrors?: readonly number[] | undefined;
  readonly stored: ManifestStored;
}

export interface ManifestBackup extends BackupSpan {
  /** How this backup stores the files it copies (a file held by another backup says its own in `stored`). */
  readonly compressType: CompressType;
  readonly compressLevel: number;
  readonly timeline: number;
  readonly checksumPage: boolean;
  /** Labels of the other backups holding files of this one, oldest first (empty for a full backup). */
  readonly references: readonly string[];
  /**
   * backup.info's annotations and pin of this backup, kept here too (written by backup --annotation and annotate,
   * as pgBackRest keeps annotations in its manifest): a backup.info rebuilt from the manifests keeps them.
   */
  readonly annotation?: Readonly<Record<string, string>>;
  readonly pinned?: boolean;
}

export interface ManifestDb {
  readonly id: number;
  readonly version: string;
  readonly systemId: bigint;
  readonly catalogVersion: number;
  readonly controlVersion: number;
}

export interface Manifest {
  readonly backup: ManifestBackup;
  readonly db: ManifestDb;
  readonly targets: readonly ManifestTarget[];
  readonly paths: readonly ManifestPath[];
  readonly links: readonly ManifestLink[];
  readonly files: readonly ManifestFile[];
}

/** How a backup labelled `label` stores what it copies. */
export function fileStorage(
  label: string,
  compress: { readonly type: CompressType; readonly level: number },
  encrypted: boolean,
): FileStorage {
  return {
    holder: label,
    compressType: compress.type,
    compressLevel: compress.level,
    cipher: encrypted ? 'aes-256-gcm' : 'none',
  };
}

/** Writes the manifest, always in the current format (version 2). */
export async function writeManifest(
  driver: Driver,
  stanza: string,
  manifest: Manifest,
  key: Buffer | undefined,
): Promise<void> {
  const path = repoLayout.manifest(stanza, manifest.backup.label);
  const content = { version: MANIFEST_VERSION, ...manifest };
  await writeInfoFile(driver, path, { kind: KIND, content, key });
}

/** A manifest as its info file's bytes, before encryption (what backup.manifest holds; the history copy's content). */
export function encodeManifest(manifest: Manifest): Buffer {
  return encodeInfo(KIND, { version: MANIFEST_VERSION, ...manifest });
}

/** encodeManifest's bytes back, checked and validated; `where` names the file in errors. */
export function decodeManifest(data: Buffer, where: string): Manifest {
  return parseManifest(decodeInfo(KIND, data, where), where);
}

/** Reads and validates a manifest of any version this pgstash knows (1 and 2), as the current model. */
export async function readManifest(
  driver: Driver,
  stanza: string,
  label: string,
  key: Buffer | undefined,
): Promise<Manifest> {
  const path = repoLayout.manifest(stanza, label);
  const raw = await readInfoFile(driver, path, { kind: KIND, key });
  if (raw === undefined) {
    throw new PgStashError('fileMissing', `backup manifest '${driver.location}/${path}' is missing`, {
      hint: 'the backup is damaged: restore another backup set with --set',
    });
  }
  return parseManifest(raw, `${driver.location}/${path}`);
}

/**
 * Where a file's data lives in the repository: `<holder's backup path>/<name><extension of its compression>`,
 * the rule every writer follows (in the holder's directory, named after the file and its own compress type).
 */
export function storedFilePath(stanza: string, file: Pick<ManifestFile, 'name' | 'stored'>): string {
  // A bundled file is a member of its holder's bundle: the object to read (by range) is the bundle.
  if (file.stored.bundle !== undefined)
    return repoLayout.bundle(stanza, file.stored.holder, file.stored.bundle.id);
  return `${repoLayout.backupPath(stanza, file.stored.holder)}/${file.name}${compressExtension(file.stored.compressType)}`;
}

/** Where a block-stored file's map lives: under `block-map/` of its holder's directory, no data file's name. */
export function blockMapPath(stanza: string, file: Pick<ManifestFile, 'name' | 'stored'>): string {
  return `${repoLayout.backupPath(stanza, file.stored.holder)}/block-map/${file.name}${compressExtension(file.stored.compressType)}`;
}

/** True when `file` has no repository object: an empty file, recorded in the manifest only. */
export function isEmptyFile(file: Pick<ManifestFile, 'stored'>): boolean {
  return file.stored.empty === true;
}

/** Every backup whose directory holds data of `file`: its holder and, when stored as blocks, each part's. */
export function holdersOf(file: Pick<ManifestFile, 'stored'>): string[] {
  const { stored } = file;
  if (stored.empty === true) return [];
  return stored.block === undefined
    ? [stored.holder]
    : [stored.holder, ...stored.block.parts.map((p) => p.holder)];
}

/** Bytes a restore reads from the repository for `file` (every part of a block-stored file). */
export function storedBytesOf(file: Pick<ManifestFile, 'stored'>): number {
  const { block } = file.stored;
  return block === undefined
    ? file.stored.size
    : block.map.storedSize + block.parts.reduce((sum, part) => sum + part.size, 0);
}

/** Original bytes backup `label` stored of `file`: all of it, or of a block-stored file the blocks it holds. */
export function addedBytesOf(file: Pick<ManifestFile, 'stored' | 'size'>, label: string): number {
  const { stored } = file;
  if (stored.holder !== label) return 0;
  if (stored.block === undefined) return file.size;
  return stored.block.parts.find((part) => part.holder === label)?.originalSize ?? 0;
}

/**
 * How to read a file of a manifest back (Repository.getChunks): from where and as its own `stored` record says,
 * not as the backup that lists it stores new files, expecting the original's checksum and size.
 */
export function storedFileRead(
  stanza: string,
  file: ManifestFile,
): { readonly path: string; readonly expect: ReadExpectation } {
  return {
    path: storedFilePath(stanza, file),
    expect: {
      sha256: file.sha256,
      size: file.size,
      storedSize: file.stored.size,
      encrypted: file.stored.cipher !== 'none',
      ...(file.stored.bundle === undefined ? {} : { member: bundleMemberOf(file) }),
    },
  };
}

/** The name of `file`'s member in its bundle: its manifest name and its compress type's extension. */
export function bundleMemberName(file: Pick<ManifestFile, 'name' | 'stored'>): string {
  return `${file.name}${compressExtension(file.stored.compressType)}`;
}

/** How a bundled file's member is read (ReadExpectation.member). */
export function bundleMemberOf(
  file: Pick<ManifestFile, 'name' | 'stored'>,
): NonNullable<ReadExpectation['member']> {
  return {
    offset: file.stored.bundle?.offset ?? 0,
    compressType: file.stored.compressType,
    name: bundleMemberName(file),
  };
}
