// Tests for bundles (BackupStore.putBundle, repo/bundle-tar.ts): members read back by range through the chunk loop
// or forward from one read of the bundle (BackupStore.readBundle, repo/bundle-read.ts),
// encrypted or not, a damaged member named with its bundle, and the system tar listing and extracting every member
// (a name too long for ustar included) byte for byte.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunksOf } from '../../../src/io/chunker.js';
import { bundleRuns } from '../../../src/repo/bundle-read.js';
import { repoLayout } from '../../../src/repo/layout.js';
import { fileStorage, type ManifestFile } from '../../../src/repo/manifest.js';
import type { Repository } from '../../../src/repo/repository.js';
import { exec } from '../../harness/exec.js';
import { emptyStanza } from '../../harness/repository.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';

const LABEL = '20261206-230000F';
const COMPRESS = { type: 'zst', level: 3 } as const;

let root: string;

beforeAll(async () => {
  root = await createTempDir({ label: 'bundle' });
});

afterAll(async () => {
  await removeTempDir(root);
});

/** Files of various sizes (one of them 300 KiB, read streamed), one with a name longer than ustar's 100+155. */
function originals(): { name: string; data: Buffer }[] {
  const long = `pg_data/${'d'.repeat(120)}/${'e'.repeat(120)}/${'f'.repeat(40)}`;
  return [
    { name: 'pg_data/base/1/1259', data: Buffer.alloc(8192 * 3, 1) },
    { name: 'pg_data/global/1262', data: Buffer.from('x') },
    {
      name: 'pg_data/base/1/16384',
      data: Buffer.from(Array.from({ length: 300 * 1024 }, (_v, i) => (i * 7) % 251)),
    },
    { name: long, data: Buffer.from('a long name') },
  ];
}

/** Writes bundle 1 of `repo` from `files`; their manifest entries as a backup records them. */
async function writeBundle(repo: Repository, encrypted: boolean): Promise<ManifestFile[]> {
  const files = originals();
  const encoded: Awaited<ReturnType<Repository['encodeInMemory']>>[] = [];
  for (const file of files) encoded.push(await repo.encodeInMemory(chunksOf(file.data), COMPRESS));
  async function* members() {
    for (const [index, file] of files.entries()) {
      const { stored, file: measured } = encoded[index] as (typeof encoded)[number];
      yield { name: `${file.name}.zst`, mtime: 1_796_000_000, stored, size: measured.repoSize };
    }
  }
  const offsets = await repo.backups.putBundle(LABEL, 1, members());
  return files.map((file, index) => {
    const measured = (encoded[index] as (typeof encoded)[number]).file;
    return {
      name: file.name,
      size: measured.size,
      mtime: 1_796_000_000,
      sha256: measured.sha256,
      mode: 0o600,
      uid: 0,
      gid: 0,
      stored: {
        ...fileStorage(LABEL, COMPRESS, encrypted),
        size: measured.repoSize,
        bundle: { id: 1, offset: offsets[index] ?? -1 },
      },
    };
  });
}

async function readAll(repo: Repository, file: ManifestFile): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of await repo.backups.requireFile(file)) parts.push(chunk);
  return Buffer.concat(parts);
}

describe('a bundle', () => {
  it.each([false, true])('gives each member back by range, checked (encrypted: %s)', async (encrypted) => {
    const repo = await emptyStanza(join(root, `read-${encrypted}`), { encrypted });
    const entries = await writeBundle(repo, encrypted);
    for (const [index, file] of originals().entries())
      expect((await readAll(repo, entries[index] as ManifestFile)).equals(file.data)).toBe(true);
  });

  /** Each file readBundle yields, in order, with its bytes. */
  async function readForward(repo: Repository, files: readonly ManifestFile[]): Promise<[string, Buffer][]> {
    const read: [string, Buffer][] = [];
    for await (const { file, chunks } of repo.backups.readBundle(files)) {
      const parts: Buffer[] = [];
      for await (const chunk of chunks) parts.push(chunk);
      read.push([file.name, Buffer.concat(parts)]);
    }
    return read;
  }

  it.each([false, true])(
    'gives its members from one forward read, in bundle order, checked (encrypted: %s)',
    async (encrypted) => {
      const repo = await emptyStanza(join(root, `forward-${encrypted}`), { encrypted });
      const entries = await writeBundle(repo, encrypted);
      // Asked in any order, given in bundle order; a member left out is skipped over.
      const asked = [entries[3], entries[0], entries[2]] as ManifestFile[];
      const expected = originals().filter((_file, index) => index !== 1);
      expect(await readForward(repo, asked)).toEqual(expected.map((file) => [file.name, file.data]));
    },
  );

  it('reads members far apart with a read each, and skips what a reader left of a member', async () => {
    const repo = await emptyStanza(join(root, 'forward-runs'));
    const entries = await writeBundle(repo, false);
    // The 300 KiB member (stored smaller, compressed) lies between the first two and the last.
    expect(bundleRuns(entries).map((run) => run.files.length)).toEqual([4]);
    expect(bundleRuns(entries, 0).length).toBeGreaterThan(1);
    const names: string[] = [];
    for await (const { file, chunks } of repo.backups.readBundle(entries)) {
      names.push(file.name);
      // Only the first chunk of each: the next member is read all the same.
      await chunks.next();
    }
    expect(names).toEqual(originals().map((file) => file.name));
  });

  it('names the bundle when a member of a forward read is damaged, or the bundle ends early', async () => {
    const dir = join(root, 'forward-damaged');
    const repo = await emptyStanza(dir);
    const entries = await writeBundle(repo, false);
    const path = join(dir, repoLayout.bundle('main', LABEL, 1));
    const bytes = await readFile(path);
    const { writeFile } = await import('node:fs/promises');
    const target = entries[2] as ManifestFile;
    const damaged = Buffer.from(bytes);
    const at = (target.stored.bundle?.offset ?? 0) + 10;
    damaged[at] = (damaged[at] ?? 0) ^ 0xff;
    await writeFile(path, damaged);
    await expect(readForward(repo, entries)).rejects.toThrow(
      `bundle/1.tar' member 'pg_data/base/1/16384.zst' is corrupt`,
    );
    // Cut inside the last member: the read fails naming the bundle, never a short file taken as whole.
    const last = entries[3] as ManifestFile;
    await writeFile(path, bytes.subarray(0, (last.stored.bundle?.offset ?? 0) + 2));
    await expect(readForward(repo, entries)).rejects.toThrow(/bundle\/1\.tar' .*corrupt/);
  });

  it('names the member and its bundle when a member is damaged', async () => {
    const dir = join(root, 'damaged');
    const repo = await emptyStanza(dir);
    const entries = await writeBundle(repo, false);
    const target = entries[0] as ManifestFile;
    const path = join(dir, repoLayout.bundle('main', LABEL, 1));
    const bytes = await readFile(path);
    const at = (target.stored.bundle?.offset ?? 0) + 10;
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path, bytes);
    await expect(readAll(repo, target)).rejects.toThrow(
      `bundle/1.tar' member 'pg_data/base/1/1259.zst' is corrupt`,
    );
    // The member after it is untouched.
    expect((await readAll(repo, entries[1] as ManifestFile)).equals(Buffer.from('x'))).toBe(true);
  });

  it('is a tar archive: the system tar lists and extracts every member, zstd -d gives each file back', async () => {
    const dir = join(root, 'tar');
    const repo = await emptyStanza(dir);
    await writeBundle(repo, false);
    const path = join(dir, repoLayout.bundle('main', LABEL, 1));
    const listing = await exec('tar', ['-tf', path]);
    expect(listing.code, listing.stderr).toBe(0);
    expect(listing.stdout.trim().split('\n')).toEqual(originals().map((file) => `${file.name}.zst`));
    const out = join(dir, 'out');
    await exec('mkdir', ['-p', out]);
    expect((await exec('tar', ['-xf', path, '-C', out])).code).toBe(0);
    for (const file of originals()) {
      const result = await exec('zstd', ['-q', '-d', '-f', join(out, `${file.name}.zst`)]);
      expect(result.code, result.stderr).toBe(0);
      expect((await readFile(join(out, file.name))).equals(file.data)).toBe(true);
    }
  });
});
