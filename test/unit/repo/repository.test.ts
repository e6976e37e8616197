// Tests for Repository file transfer through the chunk loop: putChunks stores the same bytes as ever, its stages
// measure, getChunks verifies, failures leave nothing.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isPgStashError } from '../../../src/common/errors.js';
import type { RepoOptions } from '../../../src/config/load.js';
import { CHUNK_SIZE } from '../../../src/io/chunker.js';
import {
  COMPRESS_TYPES,
  compressExtension,
  defaultCompressLevel,
  type CompressType,
} from '../../../src/io/compress.js';
import { Decryptor } from '../../../src/io/crypto/decrypt.js';
import { PageVerifier } from '../../../src/io/page-checksum.js';
import { Repository } from '../../../src/repo/repository.js';
import { removeTempFilesNow, tempFilesInProgress } from '../../../src/storage/temp-files.js';
import { makeData, sha256 } from '../io/helpers.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';
import { repoOptions } from '../../harness/repository.js';

const LENGTHS = [0, 1, 8192, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 5];
let dir: string;

beforeAll(async () => {
  dir = await createTempDir({ label: 'repository' });
});

afterAll(async () => {
  await removeTempDir(dir);
});

function options(name: string, encrypted: boolean): RepoOptions {
  return repoOptions(join(dir, name), { cipherType: encrypted ? 'aes-256-gcm' : 'none' });
}

async function* chunksOf(data: Buffer): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < data.length; offset += CHUNK_SIZE)
    yield data.subarray(offset, offset + CHUNK_SIZE);
}

/** The verified original of a repository file, read with getChunks. */
async function fetch(
  repo: Repository,
  path: string,
  expect: { sha256: string; size: number },
): Promise<Buffer> {
  const chunks = await repo.getChunks(path, expect);
  if (chunks === undefined) throw new Error(`${path} not found`);
  const output: Buffer[] = [];
  for await (const chunk of chunks) output.push(chunk);
  return Buffer.concat(output);
}

/**
 * The stored bytes of `putChunks` for these inputs, recorded from the stream pipeline (Repository.put) and the
 * chunk loop before the two became one: SHA-256 over the hex SHA-256 of each stored file, in LENGTHS order. A change
 * here changes what every repository stores. (A new version of a compression library may change its frames
 * legitimately; readers do not mind, but then say so in the commit.)
 */
const GOLDEN_LENGTHS = [0, 1, 8192, CHUNK_SIZE - 1, CHUNK_SIZE, 2 * CHUNK_SIZE + 5, 5 * CHUNK_SIZE + 17];
const GOLDEN: readonly (readonly [CompressType, number, string])[] = [
  ['none', 0, 'f20cf3dd375326b6e465b58077d4428b9e1c1a968a9cf1a94157d29c35395ff9'],
  ['gz', 6, 'c7eef156f781c47531a53df78de90b3535747aa34b8c0754317074be0eac818d'],
  ['gz', 1, '97adcd54fe3ab125074a732f71799cc985fc5dfeea789eb765e9e10f48e996fe'],
  ['lz4', 1, '8a1315512d0a3e2a2ed0280df933cf11924da7ad506969e8e14c8ed24dbd7e58'],
  ['zst', 3, '3ecc21a9438655707dc43edf04247bb035f17fcc9492f96e25354e0d3fbb44e0'],
  ['zst', 19, '7f201ef8e1e8d8a10f90eb23e1a94bbf6a5d26b9da2ae1659f79eb1aebde7e96'],
  ['zst', -7, '8acca70b4abe3b0aabbf56e94b01219c43e4ba1255f911a5f421f3cbc83fd4dc'],
];

describe('Repository.putChunks stored bytes', () => {
  it.each(GOLDEN)(
    'are the same as ever for the same input and settings (%s level %i), encrypted or not',
    async (type, level, golden) => {
      const key = randomBytes(32);
      const plain = await Repository.openInWorker(
        options(`golden-${type}${level}`, false),
        'main',
        undefined,
      );
      const secret = await Repository.openInWorker(options(`golden-${type}${level}-aes`, true), 'main', key);
      const digest = createHash('sha256');
      for (const length of GOLDEN_LENGTHS) {
        const data = makeData(length, 'mixed', length + 1);
        const path = `g/${length}${compressExtension(type)}`;
        await plain.putChunks(chunksOf(data), path, { type, level });
        const stored = await readFile(join(options(`golden-${type}${level}`, false).path, path));
        digest.update(sha256(stored));
        // Encrypted: the salt is random, but under it are the same stored bytes, in the documented layout.
        await secret.putChunks(chunksOf(data), path, { type, level });
        const sealed = await readFile(join(options(`golden-${type}${level}-aes`, true).path, path));
        const decryptor = new Decryptor(key);
        const opened = Buffer.concat(decryptor.update(sealed));
        decryptor.final();
        expect(opened.equals(stored)).toBe(true);
        expect(sealed.length).toBe(
          40 + Math.max(1, Math.ceil(stored.length / CHUNK_SIZE)) * 20 + stored.length,
        );
      }
      expect(digest.digest('hex')).toBe(golden);
    },
  );

  it('small files through putBuffer are the same bytes as through putChunks', async () => {
    const repo = await Repository.openInWorker(options('buffer', false), 'main', undefined);
    const root = options('buffer', false).path;
    for (const type of COMPRESS_TYPES) {
      const compress = { type, level: defaultCompressLevel(type) };
      for (const length of [0, 100, CHUNK_SIZE + 1]) {
        const data = makeData(length, 'text', length);
        const a = await repo.putBuffer(data, `b/${length}${compressExtension(type)}`, compress);
        const b = await repo.putChunks(chunksOf(data), `c/${length}${compressExtension(type)}`, compress);
        expect(a).toEqual(b);
        expect(
          (await readFile(join(root, `b/${length}${compressExtension(type)}`))).equals(
            await readFile(join(root, `c/${length}${compressExtension(type)}`)),
          ),
        ).toBe(true);
      }
    }
  });
});

describe('Repository.putChunks', () => {
  it('runs its stages over the original: a page checksum stage reports the bad page of a file it stores', async () => {
    const repo = await Repository.openInWorker(options('pages', false), 'main', undefined);
    // 200 pages of 8 KiB, all new (zeros, which PostgreSQL accepts), but page 130 (in the second chunk) is dirty.
    const data = Buffer.alloc(200 * 8192);
    data[130 * 8192 + 5000] = 1;
    const verifier = new PageVerifier({ segmentNo: 0 });
    const stored = await repo.putChunks(
      chunksOf(data),
      'p/16384.zst',
      { type: 'zst', level: 3 },
      {
        stages: [verifier],
      },
    );
    expect(verifier.pagesChecked).toBe(200);
    expect(verifier.invalidPages).toEqual([130]);
    expect((await fetch(repo, 'p/16384.zst', stored)).equals(data)).toBe(true);
  });

  it('encrypts: the repository file is not the data, and getChunks returns the data', async () => {
    const key = randomBytes(32);
    const repo = await Repository.openInWorker(options('encrypted', true), 'main', key);
    for (const length of LENGTHS) {
      const data = makeData(length, 'text', length + 3);
      const stored = await repo.putChunks(chunksOf(data), `f/${length}.lz4`, { type: 'lz4', level: 1 });
      const raw = await readFile(join(options('encrypted', true).path, `f/${length}.lz4`));
      expect(raw.subarray(0, 8).toString('latin1')).toBe('PGSTENC1');
      expect(stored.repoSize).toBe(raw.length);
      expect((await fetch(repo, `f/${length}.lz4`, stored)).equals(data)).toBe(true);
    }
  });

  it.each(COMPRESS_TYPES)(
    'gives each chunk back once compressed (never without compression), storing the same bytes (%s)',
    async (type: CompressType) => {
      const repo = await Repository.openInWorker(options(`release-${type}`, false), 'main', undefined);
      const compress = { type, level: defaultCompressLevel(type) };
      const ext = compressExtension(type);
      const data = makeData(5 * CHUNK_SIZE + 3, 'mixed', 21);
      // Chunks filled from a few reused buffers, as archive-push and backup read them.
      const free: Buffer[] = [];
      const released: Buffer[] = [];
      async function* reusing(): AsyncGenerator<Buffer> {
        for (let offset = 0; offset < data.length; offset += CHUNK_SIZE) {
          const piece = data.subarray(offset, offset + CHUNK_SIZE);
          const buffer = free.pop() ?? Buffer.allocUnsafe(piece.length);
          piece.copy(buffer);
          yield buffer.subarray(0, piece.length);
        }
      }
      const stored = await repo.putChunks(reusing(), `r/file${ext}`, compress, {
        release: (chunk) => {
          released.push(chunk);
          if (chunk.length === CHUNK_SIZE) free.push(chunk);
        },
      });
      expect(released.length).toBe(type === 'none' ? 0 : 6);
      const plain = await repo.putChunks(chunksOf(data), `p/file${ext}`, compress);
      expect(stored).toEqual(plain);
      const root = options(`release-${type}`, false).path;
      expect(
        (await readFile(join(root, `r/file${ext}`))).equals(await readFile(join(root, `p/file${ext}`))),
      ).toBe(true);
      expect((await fetch(repo, `r/file${ext}`, stored)).equals(data)).toBe(true);
    },
  );

  it('leaves nothing behind when the source fails', async () => {
    const repo = await Repository.openInWorker(options('failing', false), 'main', undefined);
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(CHUNK_SIZE, 1);
      throw new Error('source broke');
    }
    await expect(repo.putChunks(failing(), 'd/file.zst', { type: 'zst', level: 3 })).rejects.toThrow(
      'source broke',
    );
    expect(await readdir(join(options('failing', false).path, 'd'))).toEqual([]);
  });

  it('getChunks names the file when the stored data does not match', async () => {
    const repo = await Repository.openInWorker(options('mismatch', false), 'main', undefined);
    const stored = await repo.putChunks(chunksOf(Buffer.from('hello')), 'm/file.gz', {
      type: 'gz',
      level: 6,
    });
    const error = await fetch(repo, 'm/file.gz', { ...stored, sha256: '0'.repeat(64) }).catch(
      (caught: unknown) => caught,
    );
    expect(isPgStashError(error, 'checksum')).toBe(true);
    expect((error as Error).message).toContain("m/file.gz' is corrupt");
  });
});

describe("Repository.getChunks read on demand (onDemand, a block-stored file's parts)", () => {
  it.each(COMPRESS_TYPES)('gives the same bytes as a streamed read, encrypted or not (%s)', async (type) => {
    for (const encrypted of [false, true]) {
      const key = encrypted ? randomBytes(32) : undefined;
      const repo = await Repository.openInWorker(
        options(`demand-${type}-${encrypted}`, encrypted),
        'main',
        key,
      );
      // Past the 128 KiB pieces and the 256 KiB read-whole size, with a last piece of any length.
      const data = makeData(3 * CHUNK_SIZE + 12345, 'random', 7);
      const path = `d/file${compressExtension(type)}`;
      const stored = await repo.putChunks(chunksOf(data), path, { type, level: defaultCompressLevel(type) });
      const pieces: Buffer[] = [];
      const chunks = await repo.getChunks(path, {
        ...stored,
        storedSize: stored.repoSize,
        onDemand: true,
        framesAhead: 1,
      });
      for await (const chunk of chunks ?? []) pieces.push(chunk);
      expect(Buffer.concat(pieces).equals(data)).toBe(true);
    }
  });

  it('fails with the file named when the stored data does not match, and is undefined for a missing file', async () => {
    const repo = await Repository.openInWorker(options('demand-mismatch', false), 'main', undefined);
    const data = makeData(2 * CHUNK_SIZE, 'random', 8);
    const stored = await repo.putChunks(chunksOf(data), 'm/file.lz4', { type: 'lz4', level: 1 });
    const read = async (sha256: string): Promise<void> => {
      const chunks = await repo.getChunks('m/file.lz4', {
        sha256,
        size: stored.size,
        onDemand: true,
        framesAhead: 1,
      });
      for await (const chunk of chunks ?? []) expect(chunk.length).toBeGreaterThan(0);
    };
    await read(stored.sha256);
    const error = await read('0'.repeat(64)).catch((caught: unknown) => caught);
    expect(isPgStashError(error, 'checksum')).toBe(true);
    expect((error as Error).message).toContain("m/file.lz4' is corrupt");
    expect(
      await repo.getChunks('m/missing.lz4', { sha256: stored.sha256, onDemand: true, framesAhead: 1 }),
    ).toBeUndefined();
  });
});

describe('Repository.putNamedByContent', () => {
  const compress = { type: 'lz4' as const, level: defaultCompressLevel('lz4') };

  /** 100 bytes into 'wal', under a name that does not matter (for the failure cases). */
  const putSmall = (repo: Repository) =>
    repo.putNamedByContent(
      chunksOf(makeData(100, 'mixed', 12)),
      { dir: 'wal', label: 'segment', nameOf: () => 'x' },
      compress,
    );

  it('stores under the name made from the checksum, leaving nothing else', async () => {
    const repo = await Repository.openInWorker(options('named', false), 'main', undefined);
    const data = makeData(CHUNK_SIZE + 3, 'mixed', 11);
    const stored = await repo.putNamedByContent(
      chunksOf(data),
      { dir: 'wal', label: 'segment', nameOf: (file) => `segment-${file.sha256}.lz4` },
      compress,
    );
    expect(stored.sha256).toBe(sha256(data));
    expect(await readdir(join(dir, 'named', 'wal'))).toEqual([`segment-${stored.sha256}.lz4`]);
    expect(await fetch(repo, `wal/segment-${stored.sha256}.lz4`, stored)).toEqual(data);
    expect(tempFilesInProgress()).toBe(0);
  });

  it('a signal between the write and the move removes the pending file', async () => {
    const repo = await Repository.openInWorker(options('named-signal', false), 'main', undefined);
    const move = vi.spyOn(repo.driver, 'move').mockImplementation(async (from) => {
      // What the signal handler in main.ts does just before the process dies.
      expect(await readdir(join(dir, 'named-signal', 'wal'))).toEqual([from.slice('wal/'.length)]);
      expect(tempFilesInProgress()).toBe(1);
      removeTempFilesNow();
      throw new Error('killed');
    });
    await expect(putSmall(repo)).rejects.toThrow('killed');
    expect(move).toHaveBeenCalledOnce();
    expect(await readdir(join(dir, 'named-signal', 'wal'))).toEqual([]);
  });

  it('removes the pending file when the move fails', async () => {
    const repo = await Repository.openInWorker(options('named-fail', false), 'main', undefined);
    vi.spyOn(repo.driver, 'move').mockRejectedValue(new Error('no room'));
    await expect(putSmall(repo)).rejects.toThrow('no room');
    expect(await readdir(join(dir, 'named-fail', 'wal'))).toEqual([]);
    expect(tempFilesInProgress()).toBe(0);
  });
});

describe('Repository.getChunks', () => {
  async function collect(chunks: AsyncGenerator<Buffer>): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for await (const chunk of chunks) out.push(chunk);
    return out;
  }

  // A worker's repository (blocking I/O, lz4 on its own thread; encrypted too, with the key a worker is given)
  // and the main thread's (lz4 on the pool).
  for (const blocking of [true, false]) {
    it(`returns the original in chunks of at most ${CHUNK_SIZE} bytes, every type (blocking ${blocking})`, async () => {
      const key = randomBytes(32);
      for (const encrypted of blocking ? [false, true] : [false]) {
        const name = `chunks-${blocking}-${encrypted}`;
        const repo = encrypted
          ? await Repository.openInWorker(options(name, true), 'main', key)
          : await Repository.open(options(name, false), 'main', { blocking });
        for (const type of COMPRESS_TYPES) {
          for (const length of LENGTHS) {
            const data = makeData(length, 'mixed', length + 11);
            const path = `g/${length}${compressExtension(type)}`;
            const stored = await repo.putChunks(chunksOf(data), path, {
              type,
              level: defaultCompressLevel(type),
            });
            const chunks = await collect((await repo.getChunks(path, stored)) as AsyncGenerator<Buffer>);
            expect(Buffer.concat(chunks).equals(data)).toBe(true);
            for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(CHUNK_SIZE);
          }
        }
      }
    });
  }

  it('reads what the command-line tools wrote (linked lz4 blocks, one gzip member, one zstd frame)', async () => {
    const repo = await Repository.open(options('tools', false), 'main');
    const data = makeData(3 * CHUNK_SIZE + 100, 'text', 5);
    const tools: readonly [string, string, readonly string[]][] = [
      ['lz4', '.lz4', ['-B4', '-BD', '-c']],
      ['gzip', '.gz', ['-c']],
      ['zstd', '.zst', ['-c']],
    ];
    const root = options('tools', false).path;
    await mkdir(join(root, 't'), { recursive: true });
    for (const [tool, ext, args] of tools) {
      const run = spawnSync(tool, args, { input: data, maxBuffer: 64 << 20 });
      expect(run.status).toBe(0);
      await writeFile(join(root, `t/file${ext}`), run.stdout);
      for (const blocking of [false, true]) {
        const reader = blocking ? await Repository.open(options('tools', false), 'main', { blocking }) : repo;
        const chunks = await reader.getChunks(`t/file${ext}`, { sha256: sha256(data), size: data.length });
        expect(Buffer.concat(await collect(chunks as AsyncGenerator<Buffer>)).equals(data)).toBe(true);
      }
    }
  });

  it('reads a small file whole when its stored size is known, with the same checks', async () => {
    const key = randomBytes(32);
    for (const encrypted of [false, true]) {
      const repo = await Repository.openInWorker(
        options(`whole-${encrypted}`, encrypted),
        'main',
        encrypted ? key : undefined,
      );
      const read = vi.spyOn(repo.driver, 'read');
      for (const type of COMPRESS_TYPES) {
        const data = makeData(200_000, 'mixed', 3);
        const path = `w/file${compressExtension(type)}`;
        const stored = await repo.putChunks(chunksOf(data), path, {
          type,
          level: defaultCompressLevel(type),
        });
        const whole = { sha256: stored.sha256, size: stored.size, storedSize: stored.repoSize };
        read.mockClear();
        expect(
          Buffer.concat(await collect((await repo.getChunks(path, whole)) as AsyncGenerator<Buffer>)).equals(
            data,
          ),
        ).toBe(true);
        expect(read).toHaveBeenCalledTimes(1);
        // A file said to be larger streams instead.
        read.mockClear();
        const large = { ...whole, storedSize: 1 << 20 };
        expect(
          Buffer.concat(await collect((await repo.getChunks(path, large)) as AsyncGenerator<Buffer>)).equals(
            data,
          ),
        ).toBe(true);
        expect(read).not.toHaveBeenCalled();
        // One flipped bit is still found.
        const file = join(options(`whole-${encrypted}`, encrypted).path, path);
        const raw = await readFile(file);
        const middle = raw.length >> 1;
        raw.writeUInt8(raw.readUInt8(middle) ^ 0x10, middle);
        await writeFile(file, raw);
        const error = await collect((await repo.getChunks(path, whole)) as AsyncGenerator<Buffer>).catch(
          (caught: unknown) => caught,
        );
        expect(isPgStashError(error, encrypted ? 'crypto' : 'checksum')).toBe(true);
      }
      expect(
        await repo.getChunks('w/missing.zst', { sha256: '0'.repeat(64), storedSize: 10 }),
      ).toBeUndefined();
      // A file larger than recorded is corrupt, found without reading it into memory.
      await writeFile(
        join(options(`whole-${encrypted}`, encrypted).path, 'w/grown.zst'),
        Buffer.alloc(5 << 20),
      );
      read.mockClear();
      const error = await repo
        .getChunks('w/grown.zst', { sha256: '0'.repeat(64), storedSize: 1000 })
        .catch((caught: unknown) => caught);
      expect(isPgStashError(error, 'checksum')).toBe(true);
      expect((error as Error).message).toMatch(
        /w\/grown.zst' is corrupt: larger than the 1000 bytes recorded$/,
      );
      expect(((await read.mock.results[0]?.value) as Buffer).length).toBe(1001);
    }
  });

  it('is undefined for a missing file', async () => {
    const repo = await Repository.open(options('missing', false), 'main');
    expect(await repo.getChunks('nothing/here.zst', { sha256: '0'.repeat(64) })).toBeUndefined();
  });

  it('fails after the last chunk when the size or checksum does not match, and on damaged data', async () => {
    const repo = await Repository.open(options('damaged', false), 'main');
    const data = makeData(2 * CHUNK_SIZE, 'mixed', 1);
    const stored = await repo.putChunks(chunksOf(data), 'x/file.zst', { type: 'zst', level: 3 });
    const attempts: { sha256: string; size: number }[] = [
      { sha256: stored.sha256, size: stored.size + 1 },
      { sha256: sha256(Buffer.from('other')), size: stored.size },
    ];
    for (const expected of attempts) {
      const error = await collect(
        (await repo.getChunks('x/file.zst', expected)) as AsyncGenerator<Buffer>,
      ).catch((caught: unknown) => caught);
      expect(isPgStashError(error, 'checksum')).toBe(true);
      expect((error as Error).message).toContain("x/file.zst' is corrupt: checksum mismatch");
    }
    // Cut the file inside its second frame.
    const path = join(options('damaged', false).path, 'x/file.zst');
    const raw = await readFile(path);
    await writeFile(path, raw.subarray(0, raw.length - 10));
    const error = await collect((await repo.getChunks('x/file.zst', stored)) as AsyncGenerator<Buffer>).catch(
      (caught: unknown) => caught,
    );
    expect(isPgStashError(error, 'checksum')).toBe(true);
    expect((error as Error).message).toMatch(/x\/file.zst' is corrupt: invalid zst data/);
  });
});
