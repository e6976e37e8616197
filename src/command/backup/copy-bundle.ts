// Copies a group of small files into one bundle of the backup (repoN-bundle): each file read, checked and stored in
// memory through the chunk loop, then written as a member of the bundle's tar archive, the bundle in one stream.
import { CHUNK_SIZE } from '../../io/chunker.js';
import { compressExtension } from '../../io/compress.js';
import type { DataDirEntry } from '../../postgres/data-dir.js';
import type { BundleMember } from '../../repo/backup-store.js';
import type { ManifestBundle } from '../../repo/manifest.js';
import type { Repository } from '../../repo/repository.js';
import { readChunks } from '../../storage/file-chunks.js';
import type { ProgressCounter } from '../progress/counter.js';
import {
  copyFile,
  openSourceFile,
  pageVerifierFor,
  type CopiedFile,
  type FileCopySettings,
} from './copy-file.js';

/** A file of a bundle job: what the worker needs to read it and to name and date its member. */
export type BundleEntry = Pick<DataDirEntry, 'name' | 'absolutePath' | 'size' | 'mtime'>;

/** One file's copy: a member of the bundle (`bundle` set), or stored alone (it outgrew the limit meanwhile). */
export interface BundledFile extends CopiedFile {
  readonly bundle?: ManifestBundle | undefined;
}

/** Thrown inside the read of a member that reached the bundle limit: it is then stored on its own. */
class Outgrown extends Error {}

/**
 * Copies `entries` into bundle `id` of the backup; for each, in order, its copy or undefined when it vanished since
 * it was listed. A file that grew to `limit` bytes since it was listed is stored alone instead (copyFile): a member
 * is held in memory until written, so the limit bounds it. `progress` counts each file's bytes once: a member's
 * once it is read whole, so an outgrown file's first reading is not counted beside its copy alone.
 */
export async function copyBundle(
  repo: Repository,
  entries: readonly BundleEntry[],
  settings: FileCopySettings,
  bundle: { readonly id: number; readonly limit: number },
  progress?: ProgressCounter,
): Promise<(BundledFile | undefined)[]> {
  const results: (BundledFile | undefined)[] = entries.map(() => undefined);
  const members: number[] = [];
  const extension = compressExtension(settings.compress.type);
  async function* read(): AsyncGenerator<BundleMember> {
    for (const [index, entry] of entries.entries()) {
      const member = await readMember(repo, entry, settings, bundle.limit);
      if (member === 'vanished') continue;
      if (member === 'outgrown') {
        results[index] = await copyFile(repo, entry, settings, undefined, progress?.stage());
        continue;
      }
      progress?.add(member.copied.size);
      results[index] = member.copied;
      members.push(index);
      yield {
        name: `${entry.name}${extension}`,
        mtime: entry.mtime,
        stored: member.stored,
        size: member.copied.repoSize,
      };
    }
  }
  // Not synced one by one: the backup flushes its workers before it records files for a resume (which copies
  // bundled files again anyway) and before it writes the manifest.
  const offsets = await repo.backups.putBundle(settings.label, bundle.id, read(), { sync: false });
  members.forEach((index, at) => {
    const copied = results[index];
    const offset = offsets[at];
    if (copied !== undefined && offset !== undefined)
      results[index] = { ...copied, bundle: { id: bundle.id, offset } };
  });
  return results;
}

/** One file's stored form in memory, with what its copy measured; 'vanished' or 'outgrown' when it cannot be. */
async function readMember(
  repo: Repository,
  entry: BundleEntry,
  settings: FileCopySettings,
  limit: number,
): Promise<{ stored: Buffer[]; copied: CopiedFile } | 'vanished' | 'outgrown'> {
  const file = await openSourceFile(entry.absolutePath);
  if (file === undefined) return 'vanished';
  try {
    const verifier = pageVerifierFor(entry.name, settings);
    const chunks = readChunks(file, entry.absolutePath, { chunkSize: CHUNK_SIZE, sizeHint: entry.size });
    async function* bounded(): AsyncGenerator<Buffer> {
      let size = 0;
      for await (const chunk of chunks) {
        size += chunk.length;
        if (size >= limit) throw new Outgrown();
        yield chunk;
      }
    }
    const { stored, file: measured } = await repo.encodeInMemory(bounded(), settings.compress, {
      stages: verifier === undefined ? [] : [verifier],
    });
    return { stored, copied: { ...measured, invalidPages: verifier?.invalidPages ?? [] } };
  } catch (error) {
    if (error instanceof Outgrown) return 'outgrown';
    throw error;
  } finally {
    await file.close();
  }
}
