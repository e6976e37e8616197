// Which files a diff or incr takes from its prior instead of copying them (pgBackRest's manifestBuildIncr).
import { createReadStream } from 'node:fs';
import { ContentDigest } from '../../io/stage.js';
import type { DataDirEntry } from '../../postgres/data-dir.js';
import type { Manifest, ManifestFile } from '../../repo/manifest.js';
import { ownerOf } from './copy-files.js';

export interface PriorReuseOptions {
  /** --delta: trust a file only when its content's SHA-256 matches, not its size and mtime. */
  readonly delta: boolean;
  /** The timeline this backup starts on: after a switch (a restore, a promotion) mtimes are not trusted. */
  readonly timeline: number;
  /** When the copy starts, epoch seconds: an mtime after it is in the future (a clock change). */
  readonly copyStart: number;
}

/**
 * The `CopyOptions.reuse` of a backup on `prior`: for a file the prior has with the same content, the prior's
 * entry (its `stored` record names the backup that holds the data, never a chain), with this file's mtime and
 * owner; undefined for a file to copy. An empty file is always the same.
 *
 * Without delta, a file is unchanged when its size and mtime are those the prior recorded, unless the prior
 * recorded an mtime at or after its own start second: a write later in that same second leaves size and mtime
 * as they were (mtimes have one-second resolution here), so such a file is copied again. Backups start on a
 * whole second, no file read before it (copy-start.ts), so a file written before one began is trusted. As
 * pgBackRest does, mtimes are not trusted (the file is hashed, as with delta) when the timeline changed since the
 * prior, or for a file whose mtime went back or is in the future. A file whose size changed is always copied.
 * With delta, the file is read and hashed and kept only when its SHA-256 matches: a restore, a copied data
 * directory or a clock change can leave old mtimes on new content. A file that differs is read again by the copy.
 */
export function priorReuse(
  prior: Manifest,
  options: PriorReuseOptions,
): (entry: DataDirEntry) => Promise<ManifestFile | undefined> {
  const files = new Map(prior.files.map((file) => [file.name, file]));
  const priorStart = prior.backup.timestampStart;
  const delta = options.delta || options.timeline !== prior.backup.timeline;
  return async (entry) => {
    const earlier = files.get(entry.name);
    if (earlier === undefined || earlier.size !== entry.size) return undefined;
    const same =
      entry.size === 0 ||
      (delta || entry.mtime < earlier.mtime || entry.mtime > options.copyStart
        ? (await contentSha256(entry.absolutePath)) === earlier.sha256
        : entry.mtime === earlier.mtime && earlier.mtime < priorStart);
    if (!same) return undefined;
    return { ...earlier, ...ownerOf(entry), mtime: entry.mtime };
  };
}

/** SHA-256 of a file read in 1 MiB pieces; undefined when it is gone (the copy then skips it as removed). */
async function contentSha256(path: string): Promise<string | undefined> {
  const digest = new ContentDigest();
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }))
      digest.update(chunk as Buffer);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return digest.digest();
}
