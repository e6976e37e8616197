// backup.manifest: everything a restore needs about one backup — cluster, WAL range, targets, paths, links, files.
import { PgStashError } from '../common/errors.js';
import type { Driver } from '../storage/driver.js';
import { checkSpanFields, type BackupSpan } from './backup-info.js';
import { readInfoFile, writeInfoFile } from './info-file.js';
import { repoLayout } from './layout.js';

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

export interface ManifestFile extends ManifestOwner {
  /** Name under the backup root, e.g. 'pg_data/base/1/1259'; stored at `<label>/<name><extension>`. */
  readonly name: string;
  readonly size: number;
  /** Modification time, epoch seconds. */
  readonly mtime: number;
  /** SHA-256 of the original content. */
  readonly sha256: string;
  /** Bytes as stored (compressed, encrypted). */
  readonly repoSize: number;
  /**
   * Label of the backup that holds the data when not this one (diff/incr reuse an unchanged file). The manifest
   * format leaves room for a file stored as changed blocks against such a reference.
   */
  readonly reference?: string | undefined;
  /** Page numbers that failed PostgreSQL page checksum verification while copying. */
  readonly pageChecksumErrors?: readonly number[] | undefined;
}

export interface ManifestBackup extends BackupSpan {
  readonly timeline: number;
  readonly compressLevel: number;
  readonly checksumPage: boolean;
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

function parseManifest(raw: unknown, where: string): Manifest {
  const content = raw as Partial<Record<keyof Manifest, unknown>> | null;
  const valid =
    content !== null &&
    typeof content === 'object' &&
    typeof content.backup === 'object' &&
    typeof content.db === 'object' &&
    [content.targets, content.paths, content.links, content.files].every(Array.isArray);
  if (!valid) throw new PgStashError('format', `invalid backup manifest '${where}'`);
  checkSpanFields(content.backup as Partial<BackupSpan>, where);
  const db = content.db as ManifestDb & { systemId: string };
  return { ...(content as unknown as Manifest), db: { ...db, systemId: BigInt(db.systemId) } };
}

export async function writeManifest(
  driver: Driver,
  stanza: string,
  manifest: Manifest,
  key: Buffer | undefined,
): Promise<void> {
  const path = repoLayout.manifest(stanza, manifest.backup.label);
  await writeInfoFile(driver, path, { kind: KIND, content: manifest, key });
}

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

/** Where a manifest file's data lives in the repository (in its reference backup when it has one). */
export function repoFilePath(stanza: string, label: string, file: ManifestFile, extension: string): string {
  return `${repoLayout.backupPath(stanza, file.reference ?? label)}/${file.name}${extension}`;
}
