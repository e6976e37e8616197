// Tests for block maps and block-stored files: the map format (round trip, compact, damage refused naming the file),
// the block size by file size, and copyBlocks + BackupStore.readFile on a real repository: only changed blocks
// stored, the file put together exactly from its parts (compressions and cipher mixed), damage detected.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBlocks } from '../../../src/command/backup/copy-blocks.js';
import { isPgStashError } from '../../../src/common/errors.js';
import { chunksOf } from '../../../src/io/chunker.js';
import {
  BLOCK_CHECKSUM_BYTES,
  BlockMap,
  blockChecksum,
  blockSizeFor,
  NEW_MAP_CHECKSUM,
} from '../../../src/repo/block-map.js';
import { isBlockFile } from '../../../src/repo/block-read.js';
import type { ManifestFile } from '../../../src/repo/manifest.js';
import type { Repository } from '../../../src/repo/repository.js';
import { emptyStanza } from '../../harness/repository.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const NAME = 'pg_data/base/1/16384';

let root: string;

beforeAll(async () => {
  root = await createTempDir({ label: 'block-map' });
});

afterAll(async () => {
  await removeTempDir(root);
});

describe('block size', () => {
  it('is 8 KiB for small files and grows by powers of two to keep 16384 blocks or fewer, up to 1 MiB', () => {
    expect(blockSizeFor(MIB)).toBe(8 * KIB);
    expect(blockSizeFor(128 * MIB)).toBe(8 * KIB);
    expect(blockSizeFor(129 * MIB)).toBe(16 * KIB);
    expect(blockSizeFor(640 * MIB)).toBe(64 * KIB);
    expect(blockSizeFor(1024 * MIB)).toBe(64 * KIB);
    expect(blockSizeFor(64 * 1024 * MIB)).toBe(MIB);
  });
});

describe('block map format', () => {
  const expectOf = (map: BlockMap, size: number, partBlocks: number[]) => ({
    blockSize: map.blockSize,
    size,
    partBlocks,
  });

  it.each(['xxh64', 'sha256'] as const)(
    'round-trips a 1 GiB file of 8 KiB blocks (131072 blocks) held in typed arrays, checksums of kind %s',
    (kind) => {
      const count = 131072;
      const map = new BlockMap(8 * KIB, count, 3, kind);
      for (let block = 0; block < count; block++)
        map.set(block, block % 3, Math.floor(block / 3), randomBytes(BLOCK_CHECKSUM_BYTES));
      const encoded = map.encode();
      expect(encoded.length).toBeLessThan(count * 16);
      const decoded = BlockMap.decode(encoded, NAME, expectOf(map, count * 8 * KIB, [43691, 43691, 43690]));
      expect(decoded.count).toBe(count);
      expect(Buffer.from(decoded.parts.buffer).equals(Buffer.from(map.parts.buffer))).toBe(true);
      expect(Buffer.from(decoded.slots.buffer).equals(Buffer.from(map.slots.buffer))).toBe(true);
      expect(decoded.checksums.equals(map.checksums)).toBe(true);
      expect(decoded.checksumKind).toBe(kind);
    },
  );

  it('checks a block against either kind of checksum: xxh64 for new maps, a SHA-256 prefix for older ones', () => {
    const block = randomBytes(8 * KIB);
    const other = Buffer.from(block);
    other[5] = (other[5] as number) ^ 1;
    for (const kind of ['xxh64', 'sha256'] as const) {
      const map = new BlockMap(8 * KIB, 1, 1, kind);
      map.set(0, 0, 0, blockChecksum(kind, block));
      expect(map.holds(0, block), kind).toBe(true);
      expect(map.holds(0, other), kind).toBe(false);
      expect(map.matches(0, blockChecksum(kind, block)), kind).toBe(true);
    }
    expect(blockChecksum('xxh64', block).equals(blockChecksum('sha256', block))).toBe(false);
    expect(NEW_MAP_CHECKSUM).toBe('xxh64');
  });

  it('refuses a damaged map with fileInvalid (28) naming the file', () => {
    const map = new BlockMap(8 * KIB, 4, 1, 'xxh64');
    for (let block = 0; block < 4; block++) map.set(block, 0, block, randomBytes(BLOCK_CHECKSUM_BYTES));
    const good = map.encode();
    const expect4 = expectOf(map, 4 * 8 * KIB, [4]);
    const damaged: [string, Buffer, typeof expect4][] = [
      ['not a map', Buffer.from('hello world, not a map'), expect4],
      ['cut short', good.subarray(0, good.length - 3), expect4],
      ['a block size the manifest does not record', good, { ...expect4, blockSize: 16 * KIB }],
      ['blocks for another size', good, { ...expect4, size: 5 * 8 * KIB }],
      ['a slot past its part', good, { ...expect4, partBlocks: [3] }],
    ];
    for (const [why, data, expected] of damaged) {
      let caught: unknown;
      try {
        BlockMap.decode(data, NAME, expected);
      } catch (error) {
        caught = error;
      }
      expect(isPgStashError(caught, 'fileInvalid'), why).toBe(true);
      expect(String((caught as Error).message), why).toContain(`block map of '${NAME}' is invalid`);
    }
  });
});

/** A manifest entry for a copyBlocks result. */
function entryOf(
  label: string,
  compress: { type: 'none' | 'lz4' | 'zst'; level: number },
  cipher: 'none' | 'aes-256-gcm',
  copied: Awaited<ReturnType<typeof copyBlocks>>,
): ManifestFile {
  return {
    name: NAME,
    size: copied.size,
    mtime: 1_700_000_000,
    sha256: copied.sha256,
    mode: 0o600,
    uid: 0,
    gid: 0,
    stored: {
      holder: label,
      compressType: compress.type,
      compressLevel: compress.level,
      cipher,
      size: copied.repoSize,
      block: copied.block,
    },
  };
}

async function readBack(repo: Repository, file: ManifestFile): Promise<Buffer> {
  const chunks = await repo.backups.requireFile(file);
  const pieces: Buffer[] = [];
  for await (const chunk of chunks) pieces.push(Buffer.from(chunk));
  return Buffer.concat(pieces);
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return undefined;
}

describe.each([
  { name: 'plain', encrypted: false },
  { name: 'encrypted', encrypted: true },
])('block-stored files in a $name repository', ({ encrypted }) => {
  let repo: Repository;
  const cipher = encrypted ? 'aes-256-gcm' : 'none';
  const labels = [
    '20261206-100000F',
    '20261206-100000F_20261206-110000I',
    '20261206-100000F_20261206-120000I',
  ];
  const copy = (
    label: string,
    data: Buffer,
    compress: { type: 'none' | 'lz4' | 'zst'; level: number },
    prior?: ManifestFile,
  ) =>
    copyBlocks(
      repo,
      { name: NAME, size: data.length },
      (async function* () {
        yield* chunksOf(data);
      })(),
      { label, compress, sync: false, stages: [{ update: (chunk) => (seen += chunk.length) }] },
      prior,
    );
  let seen = 0;

  beforeAll(async () => {
    repo = await emptyStanza(join(root, encrypted ? 'encrypted' : 'plain'), { encrypted });
  });

  it('stores only changed blocks, takes the rest from the earlier parts, and reads back exactly', async () => {
    const v1 = randomBytes(3 * MIB + 5000);
    const full = await copy(labels[0]!, v1, { type: 'zst', level: 3 });
    expect(full.block.parts.map((part) => part.originalSize)).toEqual([v1.length]);
    const e1 = entryOf(labels[0]!, { type: 'zst', level: 3 }, cipher, full);
    expect((await readBack(repo, e1)).equals(v1)).toBe(true);

    // Two pages changed (one only by a bit, a hint bit), the file extended by a block and a half.
    const v2 = Buffer.concat([v1, randomBytes(12 * KIB)]);
    v2[100 * 8 * KIB + 17] = (v2[100 * 8 * KIB + 17] as number) ^ 0x10;
    randomBytes(8 * KIB).copy(v2, 300 * 8 * KIB);
    const incr = await copy(labels[1]!, v2, { type: 'lz4', level: 1 }, e1);
    // Every stage (page checksums, the backup's progress) sees every byte read, not only the blocks stored.
    expect(seen).toBe(v1.length + v2.length);
    const own = incr.block.parts.find((part) => part.holder === labels[1]);
    // Blocks 100 and 300, the old short last block (now whole) and the new ones.
    expect(own?.originalSize).toBe(2 * 8 * KIB + 8 * KIB + 8 * KIB + (v2.length % (8 * KIB)));
    expect(incr.block.parts.map((part) => part.holder)).toEqual([labels[0], labels[1]]);
    const e2 = entryOf(labels[1]!, { type: 'lz4', level: 1 }, cipher, incr);
    expect((await readBack(repo, e2)).equals(v2)).toBe(true);

    // Truncated to 1.5 MiB, uncompressed: nothing changed in what is left but the cut last block.
    const v3 = v2.subarray(0, 1.5 * MIB + 100);
    const cut = await copy(labels[2]!, v3, { type: 'none', level: 0 }, e2);
    expect(cut.block.parts.find((part) => part.holder === labels[2])?.originalSize).toBe(100);
    const e3 = entryOf(labels[2]!, { type: 'none', level: 0 }, cipher, cut);
    expect((await readBack(repo, e3)).equals(v3)).toBe(true);
  });

  it('an incr on a map of the older kind (SHA-256) keeps that kind; both read back exactly', async () => {
    const label = '20261206-140000F';
    const incrLabel = '20261206-140000F_20261206-150000I';
    const compress = { type: 'lz4' as const, level: 1 };
    const v1 = randomBytes(2 * MIB + 3000);
    const full = entryOf(label, compress, cipher, await copy(label, v1, compress));
    if (!isBlockFile(full)) throw new Error('not stored as blocks');
    const newMap = await repo.backups.blockMap(full);
    expect(newMap.checksumKind).toBe('xxh64');
    // The full's map as pgstash stored it before xxHash: the same places, SHA-256 prefixes, magic PGSTBLK1.
    const old = new BlockMap(newMap.blockSize, newMap.count, newMap.partCount, 'sha256');
    for (let block = 0; block < newMap.count; block++) {
      const content = v1.subarray(block * newMap.blockSize, (block + 1) * newMap.blockSize);
      old.set(block, newMap.parts[block]!, newMap.slots[block]!, blockChecksum('sha256', content));
    }
    const stored = await repo.backups.putBlockMap(label, NAME, old.encode(), compress, { sync: false });
    expect(stored.size).toBe(old.encode().length);
    const oldFull: ManifestFile = {
      ...full,
      stored: {
        ...full.stored,
        block: {
          ...full.stored.block!,
          map: { size: stored.size, sha256: stored.sha256, storedSize: stored.repoSize },
        },
      },
    };
    expect((await readBack(repo, oldFull)).equals(v1)).toBe(true);

    const v2 = Buffer.from(v1);
    randomBytes(8 * KIB).copy(v2, 40 * 8 * KIB);
    const incr = await copy(incrLabel, v2, compress, oldFull);
    expect(incr.block.parts.find((part) => part.holder === incrLabel)?.originalSize).toBe(8 * KIB);
    const e2 = entryOf(incrLabel, compress, cipher, incr);
    if (!isBlockFile(e2)) throw new Error('not stored as blocks');
    expect((await repo.backups.blockMap(e2)).checksumKind).toBe('sha256');
    expect((await readBack(repo, e2)).equals(v2)).toBe(true);
  });

  it('reads a file interleaved from many parts (read ahead across parts) exactly, and names a damaged part', async () => {
    // A full, then five incrs each changing every 6th block at its own offset: the last map takes block after block
    // from another part, as the last of a long chain does, so the runs read ahead come from several parts at once.
    const compress = { type: 'zst' as const, level: 3 };
    const chain = ['20261206-160000F', ...[1, 2, 3, 4, 5].map((n) => `20261206-160000F_20261206-16000${n}I`)];
    let data = randomBytes(2 * MIB + 777);
    let entry = entryOf(chain[0]!, compress, cipher, await copy(chain[0]!, data, compress));
    if (!isBlockFile(entry)) throw new Error('not stored as blocks');
    const blockSize = entry.stored.block.blockSize;
    for (const [index, label] of chain.slice(1).entries()) {
      data = Buffer.from(data);
      for (let block = index; block * blockSize < data.length; block += 6)
        randomBytes(Math.min(blockSize, data.length - block * blockSize)).copy(data, block * blockSize);
      entry = entryOf(label, compress, cipher, await copy(label, data, compress, entry));
    }
    if (!isBlockFile(entry)) throw new Error('not stored as blocks');
    expect(entry.stored.block.parts.map((part) => part.holder)).toEqual(chain);
    expect((await readBack(repo, entry)).equals(data)).toBe(true);

    // A reader that stops after its first piece leaves nothing running (an unhandled rejection fails the run).
    const chunks = await repo.backups.requireFile(entry);
    expect((await chunks.next()).done).toBe(false);
    await chunks.return(undefined);

    // The third incr's part damaged: the read fails with that part's name, whatever was read ahead meanwhile.
    const partPath = join(
      root,
      encrypted ? 'encrypted' : 'plain',
      'backup',
      'main',
      chain[3]!,
      `${NAME}.zst`,
    );
    const part = await readFile(partPath);
    const damaged = Buffer.from(part);
    damaged[Math.floor(part.length / 2)] = (damaged[Math.floor(part.length / 2)] as number) ^ 0x40;
    await writeFile(partPath, damaged);
    try {
      const error = await caught(readBack(repo, entry));
      expect(isPgStashError(error, encrypted ? 'crypto' : 'checksum'), String(error)).toBe(true);
      expect(String((error as Error).message)).toContain(chain[3]);
    } finally {
      await writeFile(partPath, part);
    }
  });

  it('refuses a damaged map or part with a checksum error (26) naming the repository file', async () => {
    const data = randomBytes(2 * MIB);
    const label = '20261206-130000F';
    const first = entryOf(
      label,
      { type: 'none', level: 0 },
      cipher,
      await copy(label, data, { type: 'none', level: 0 }),
    );
    const base = join(root, encrypted ? 'encrypted' : 'plain', 'backup', 'main', label);
    const mapPath = join(base, 'block-map', NAME);
    const map = await readFile(mapPath);
    map[map.length - 5] = (map[map.length - 5] as number) ^ 1;
    await writeFile(mapPath, map);
    const mapError = await caught(readBack(repo, first));
    expect(isPgStashError(mapError, encrypted ? 'crypto' : 'checksum'), String(mapError)).toBe(true);
    expect(String((mapError as Error).message)).toContain(`block-map/${NAME}`);
    map[map.length - 5] = (map[map.length - 5] as number) ^ 1;
    await writeFile(mapPath, map);

    const partPath = join(base, NAME);
    const part = await readFile(partPath);
    part[part.length - 100] = (part[part.length - 100] as number) ^ 1;
    await writeFile(partPath, part);
    const partError = await caught(readBack(repo, first));
    expect(isPgStashError(partError, encrypted ? 'crypto' : 'checksum'), String(partError)).toBe(true);
    expect(String((partError as Error).message)).toContain(NAME);
  });
});
