// Stores a file the backup makes rather than copies (backup_label, tablespace_map, an archived WAL segment).
import type { FileStorage, ManifestFile, ManifestOwner } from '../../repo/manifest.js';
import type { CompressSettings, Repository } from '../../repo/repository.js';

/** What every generated file of one backup shares: compression and storage record, owner and mode, mtime. */
export interface GeneratedFileSettings {
  readonly compress: CompressSettings;
  readonly storage: FileStorage;
  readonly owner: ManifestOwner;
  readonly mtime: number;
}

/** Stores `chunks` (whole chunks, io/chunker.ts) as file `name` of backup `label`; its manifest entry. */
export async function putGenerated(
  repo: Repository,
  label: string,
  name: string,
  chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
  options: GeneratedFileSettings,
): Promise<ManifestFile> {
  const stored = await repo.backups.putFile(label, name, chunks, options.compress);
  const { mode, uid, gid, user, group } = options.owner;
  return {
    name,
    size: stored.size,
    mtime: options.mtime,
    sha256: stored.sha256,
    mode,
    uid,
    gid,
    user,
    group,
    stored: { ...options.storage, size: stored.repoSize },
  };
}
