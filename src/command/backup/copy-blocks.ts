// Block-incremental copy of one large file (repoN-block): stores only the blocks that differ from the map of the
// file's version in the prior backup, and a new map saying where every block of this version is.
import { CHUNK_SIZE } from '../../io/chunker.js';
import { storedFrameSize } from '../../io/encode.js';
import type { ChunkStage } from '../../io/stage.js';
import { ChunkBuffers } from '../../storage/file-chunks.js';
import { ContentDigest } from '../../io/stage.js';
import {
  BlockMap,
  blockChecksum,
  blockCountOf,
  blockSizeFor,
  NEW_MAP_CHECKSUM,
  partFrameSize,
} from '../../repo/block-map.js';
import { isBlockFile } from '../../repo/block-read.js';
import type { BlockPart, ManifestBlocks, ManifestFile } from '../../repo/manifest.js';
import type { CompressSettings, Repository } from '../../repo/repository.js';

/** What a block-incremental copy stored: the whole file's size and SHA-256, and how its blocks are stored. */
export interface CopiedBlocks {
  readonly size: number;
  readonly sha256: string;
  /** Bytes stored in this backup's directory (its blocks and the map). */
  readonly repoSize: number;
  readonly block: ManifestBlocks;
}

/**
 * Copies `chunks` (the file, as whole chunks) as blocks into backup `label`: a block whose checksum is the one the
 * prior version's map has at the same place keeps that block's part and slot, any other block is stored here.
 * The prior's map is used only when its block size is the one this version's size asks for; otherwise every block
 * is stored here. `stages` see every chunk of the file (page checksums).
 */
export async function copyBlocks(
  repo: Repository,
  file: { readonly name: string; readonly size: number },
  chunks: AsyncIterable<Buffer>,
  settings: {
    readonly label: string;
    readonly compress: CompressSettings;
    readonly sync: boolean;
    readonly stages: readonly ChunkStage[];
    /** Where `chunks` come from (given back here once checked) and the stored chunks are taken from. */
    readonly buffers?: ChunkBuffers;
  },
  prior: ManifestFile | undefined,
): Promise<CopiedBlocks> {
  const blockSize = blockSizeFor(file.size);
  const priorBlocks =
    prior !== undefined && isBlockFile(prior) && prior.stored.block.blockSize === blockSize
      ? prior
      : undefined;
  const priorMap = priorBlocks === undefined ? undefined : await repo.backups.blockMap(priorBlocks);
  // Blocks as read: the file may have grown or shrunk since it was listed. Grown past the list's size, the map
  // grows too (typed arrays, re-allocated at most a few times).
  // Compared with the prior's checksums, and keeping those of the blocks it reuses: the prior's kind.
  const checksumKind = priorMap?.checksumKind ?? NEW_MAP_CHECKSUM;
  let entries = new BlockMap(blockSize, blockCountOf(file.size, blockSize), 0, checksumKind);
  // The whole file's SHA-256. Without a prior map every block is stored here, in order: the part is then the file,
  // byte for byte, and the part's SHA-256 (putFile computes one) is the file's. Hashing it a second time here was
  // a third of a full backup's critical path (the worker of a 640 MB table: 0.4 s of 1.3 s of CPU).
  const whole = priorMap === undefined ? undefined : new ContentDigest();
  let count = 0;
  let own = 0;
  const OWN = 0xffff;

  const buffers = settings.buffers ?? new ChunkBuffers(CHUNK_SIZE, 0);
  /**
   * The blocks to store, gathered into whole chunks taken from `buffers` (putFile gives each back once compressed).
   * A chunk read is given back as soon as its blocks are checked and the changed ones copied, unless it is passed
   * on whole (all its blocks changed, nothing gathered before it: a full backup's case), so that neither the reads
   * nor the stored blocks allocate a buffer per chunk, and no stored block keeps its source chunk alive.
   */
  async function* changedBlocks(): AsyncGenerator<Buffer> {
    let out: Buffer | undefined;
    let used = 0;
    for await (const chunk of chunks) {
      whole?.update(chunk);
      for (const stage of settings.stages) stage.update(chunk);
      const first = count;
      const changed: number[] = [];
      for (let offset = 0; offset < chunk.length; offset += blockSize) {
        const block = chunk.subarray(offset, offset + blockSize);
        const checksum = blockChecksum(checksumKind, block);
        if (count === entries.count) entries = grown(entries);
        if (priorMap !== undefined && priorMap.matches(count, checksum)) {
          entries.set(count, priorMap.parts[count] as number, priorMap.slots[count] as number, checksum);
        } else {
          entries.set(count, OWN, own++, checksum);
          changed.push(offset);
        }
        count++;
      }
      if (used === 0 && chunk.length === buffers.chunkSize && changed.length === count - first) {
        yield chunk;
        continue;
      }
      for (const offset of changed) {
        const block = chunk.subarray(offset, offset + blockSize);
        // Block sizes divide the chunk size: a block never straddles two output chunks.
        out ??= buffers.take();
        used += block.copy(out, used);
        if (used === out.length) {
          yield out;
          out = undefined;
          used = 0;
        }
      }
      buffers.give(chunk);
    }
    if (out !== undefined && used > 0) yield out.subarray(0, used);
  }

  // Changed blocks against a prior: a part that restore reads beside others (see partFrameSize).
  const frameSize = priorMap === undefined ? undefined : partFrameSize(blockSize);
  const stored = await repo.backups.putFile(settings.label, file.name, changedBlocks(), settings.compress, {
    sync: settings.sync,
    release: (chunk) => buffers.give(chunk),
    ...(frameSize === undefined ? {} : { frameSize }),
  });
  const storedFrames = storedFrameSize(settings.compress.type, frameSize);
  // The parts the new map refers to: the prior's still used (renumbered in their order), then this backup's.
  const priorParts = priorBlocks?.stored.block.parts ?? [];
  const renumber = new Int32Array(priorParts.length).fill(-1);
  const parts: BlockPart[] = [];
  for (let block = 0; block < count; block++) {
    const part = entries.parts[block] as number;
    if (part !== OWN && renumber[part] === -1) renumber[part] = 0;
  }
  priorParts.forEach((part, index) => {
    if (renumber[index] === -1) return;
    renumber[index] = parts.length;
    parts.push(part);
  });
  const ownIndex = parts.length;
  if (own > 0) {
    parts.push({
      holder: settings.label,
      compressType: settings.compress.type,
      compressLevel: settings.compress.level,
      cipher: repo.encrypted ? 'aes-256-gcm' : 'none',
      size: stored.repoSize,
      originalSize: stored.size,
      sha256: stored.sha256,
      ...(storedFrames === undefined ? {} : { frameSize: storedFrames }),
    });
  } else await repo.backups.removeFile(settings.label, file.name, settings.compress.type);
  const map = new BlockMap(blockSize, count, parts.length, checksumKind);
  for (let block = 0; block < count; block++) {
    const part = entries.parts[block] as number;
    map.set(
      block,
      part === OWN ? ownIndex : (renumber[part] as number),
      entries.slots[block] as number,
      entries.checksumOf(block),
    );
  }
  const mapStored = await repo.backups.putBlockMap(
    settings.label,
    file.name,
    map.encode(),
    settings.compress,
    {
      sync: settings.sync,
    },
  );
  return {
    size: whole?.size ?? stored.size,
    sha256: whole?.digest() ?? stored.sha256,
    repoSize: (own > 0 ? stored.repoSize : 0) + mapStored.repoSize,
    block: {
      blockSize,
      map: { size: mapStored.size, sha256: mapStored.sha256, storedSize: mapStored.repoSize },
      parts,
    },
  };
}

/** A map with room for twice the blocks (a file that grew while it was read). */
function grown(map: BlockMap): BlockMap {
  const bigger = new BlockMap(
    map.blockSize,
    Math.max(map.count * 2, CHUNK_SIZE / map.blockSize),
    0,
    map.checksumKind,
  );
  bigger.parts.set(map.parts);
  bigger.slots.set(map.slots);
  map.checksums.copy(bigger.checksums);
  return bigger;
}
