// Tests for Repository file transfer: putChunks stores what put stores, get verifies, failures leave nothing.
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgStashError } from '../../../src/common/errors.js';
import type { RepoOptions } from '../../../src/config/load.js';
import { CHUNK_SIZE } from '../../../src/io/chunker.js';
import {
  COMPRESS_TYPES,
  compressExtension,
  defaultCompressLevel,
  type CompressType,
} from '../../../src/io/compress.js';
import { bufferSource } from '../../../src/io/copy.js';
import { Repository } from '../../../src/repo/repository.js';
import { BufferSink, makeData, sha256 } from '../io/helpers.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';

const LENGTHS = [0, 1, 8192, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 5];
let dir: string;

beforeAll(async () => {
  dir = await createTempDir({ label: 'repository' });
});

afterAll(async () => {
  await removeTempDir(dir);
});

function options(name: string, encrypted: boolean): RepoOptions {
  return { index: 1, type: 'posix', path: join(dir, name), cipherType: encrypted ? 'aes-256-gcm' : 'none' };
}

async function* chunksOf(data: Buffer): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < data.length; offset += CHUNK_SIZE)
    yield data.subarray(offset, offset + CHUNK_SIZE);
}

async function fetch(
  repo: Repository,
  path: string,
  expect: { sha256: string; size: number },
): Promise<Buffer> {
  const sink = new BufferSink();
  if (!(await repo.get(path, sink, expect))) throw new Error(`${path} not found`);
  return sink.data;
}

describe('Repository.putChunks', () => {
  it.each(COMPRESS_TYPES)('stores exactly the bytes put stores (%s)', async (type: CompressType) => {
    const repo = await Repository.openInWorker(options(`plain-${type}`, false), 'main', undefined);
    const compress = { type, level: defaultCompressLevel(type) };
    // get decompresses by the file's extension, as in a real repository.
    const ext = compressExtension(type);
    for (const length of LENGTHS) {
      const data = makeData(length, 'mixed', length + 7);
      const streamed = await repo.put(bufferSource(data), `s/${length}${ext}`, compress);
      const chunked = await repo.putChunks(chunksOf(data), `c/${length}${ext}`, compress);
      expect(chunked).toEqual(streamed);
      expect(chunked.sha256).toBe(sha256(data));
      const root = options(`plain-${type}`, false).path;
      expect(
        (await readFile(join(root, `c/${length}${ext}`))).equals(
          await readFile(join(root, `s/${length}${ext}`)),
        ),
      ).toBe(true);
      expect((await fetch(repo, `c/${length}${ext}`, chunked)).equals(data)).toBe(true);
    }
  });

  it('encrypts: the repository file is not the data, and get returns the data', async () => {
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

  it('get names the file when the stored data does not match', async () => {
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
