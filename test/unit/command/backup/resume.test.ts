// Tests for resume: a leftover is resumed only by a backup that would store its files exactly as it did, and
// what the resumed backup no longer holds itself is removed from its directory.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBlocks } from '../../../../src/command/backup/copy-blocks.js';
import { chunksOf } from '../../../../src/io/chunker.js';
import type { DataDirEntry } from '../../../../src/postgres/data-dir.js';
import type { PartialManifest } from '../../../../src/repo/backup-store.js';
import { Resumable, resumeMismatch, type ResumeWanted } from '../../../../src/command/backup/resume.js';
import { fileStorage, type ManifestFile } from '../../../../src/repo/manifest.js';
import { emptyStanza, TEST_DB } from '../../../harness/repository.js';
import { createTempDir, removeTempDir } from '../../../harness/tmp.js';
import type { ResumableManifest } from '../../../../src/repo/manifest-parse.js';

const db = { id: 1, version: '15', systemId: 7000000000000000001n, catalogVersion: 1, controlVersion: 1 };

const found: ResumableManifest = {
  backup: {
    label: '20261206-101500F',
    type: 'full',
    timestampStart: 1_800_000_000,
    compressType: 'zst',
    compressLevel: 3,
    encrypted: false,
    checksumPage: true,
  },
  db,
  files: [],
};

const wanted: ResumeWanted = {
  type: 'full',
  prior: undefined,
  storage: { compressType: 'zst', compressLevel: 3, cipher: 'none' },
  checksumPage: true,
  db,
};

/** One temp directory for the file; each test's repository is a directory of its own in it. */
let root: string;

beforeAll(async () => {
  root = await createTempDir({ label: 'resume' });
});

afterAll(async () => {
  await removeTempDir(root);
});

describe('resumeMismatch', () => {
  it('resumes a leftover of the same kind', () => {
    expect(resumeMismatch(found, wanted)).toBeUndefined();
  });

  it.each([
    ['type', { ...wanted, type: 'incr' as const }, 'it is a full backup, this one is incr'],
    ['prior', { ...wanted, prior: '20261205-101500F' }, 'its prior is none'],
    ['cluster', { ...wanted, db: { ...db, systemId: 1n } }, 'another cluster'],
    [
      'compress-type',
      { ...wanted, storage: { ...wanted.storage, compressType: 'lz4' as const } },
      'compression',
    ],
    ['compress-level', { ...wanted, storage: { ...wanted.storage, compressLevel: 9 } }, 'level 3'],
    ['cipher', { ...wanted, storage: { ...wanted.storage, cipher: 'aes-256-gcm' as const } }, 'cipher'],
    ['page checksums', { ...wanted, checksumPage: false }, 'page checksum'],
  ])('refuses another %s, saying why', (_, other, why) => {
    expect(resumeMismatch(found, other)).toContain(why);
  });
});

describe('Resumable.removeUnlisted', () => {
  it("removes this backup's stored copies that the finished manifest no longer holds here, and nothing else", async () => {
    const history = TEST_DB;
    const repo = await emptyStanza(join(root, 'remove-unlisted'));
    const label = '20261206-101500F_20261206-111500I';
    const prior = '20261206-101500F';
    const compress = { type: 'zst', level: 3 } as const;
    await repo.backups.begin({
      backup: {
        label,
        type: 'incr',
        prior,
        timestampStart: 1_800_000_000,
        lsnStart: '0/2000028',
        walStart: '000000010000000000000002',
        timeline: 1,
        compressType: compress.type,
        compressLevel: compress.level,
        references: [prior],
        encrypted: false,
        checksumPage: true,
      },
      db: history.current,
      targets: [{ name: 'pg_data', type: 'path', path: '/pg' }],
    });
    const entry = async (name: string, holder: string): Promise<ManifestFile> => {
      const stored =
        holder === label
          ? await repo.backups.putFile(label, name, [Buffer.from(name)], compress)
          : { size: 1, sha256: 'a'.repeat(64), repoSize: 1 };
      return {
        name,
        size: stored.size,
        mtime: 1,
        sha256: stored.sha256,
        mode: 0o600,
        uid: 0,
        gid: 0,
        stored: { ...fileStorage(holder, compress, false), size: stored.repoSize },
      };
    };
    // Recorded by the interrupted incr: two files it stored itself, one it took from the prior.
    const kept = await entry('pg_data/kept', label);
    const nowFromPrior = await entry('pg_data/now-from-prior', label);
    const fromPrior = await entry('pg_data/from-prior', prior);
    const resumable = new Resumable(
      repo,
      {
        backup: { ...found.backup, label, type: 'incr', prior },
        db: history.current,
        files: [kept, nowFromPrior, fromPrior],
      },
      { compressType: 'zst', compressLevel: 3, cipher: 'none' },
    );
    // The resumed backup keeps 'kept', takes 'now-from-prior' from the prior (its stored copy did not verify, the
    // file is unchanged since the prior), and the file 'from-prior' is gone from the data directory.
    await resumable.removeUnlisted([
      kept,
      { ...nowFromPrior, stored: { ...nowFromPrior.stored, holder: prior } },
    ]);
    expect(await repo.backups.storedNames(label)).toEqual(['pg_data/kept.zst']);
  });
});

describe('Resumable with a block-stored file', () => {
  it('keeps it (map and data) when its map, its parts and the whole verify; copies it again once its map is damaged', async () => {
    const dir = join(root, 'blocks');
    const repo = await emptyStanza(dir);
    const prior = '20261206-101500F';
    const label = '20261206-101500F_20261206-111500I';
    const name = 'pg_data/base/5/16384';
    const compress = { type: 'zst', level: 3 } as const;
    const copy = (into: string, data: Buffer, base?: ManifestFile) =>
      copyBlocks(
        repo,
        { name, size: data.length },
        (async function* () {
          yield* chunksOf(data);
        })(),
        { label: into, compress, sync: false, stages: [] },
        base,
      );
    const entryOf = (holder: string, copied: Awaited<ReturnType<typeof copy>>): ManifestFile => ({
      name,
      size: copied.size,
      mtime: 1,
      sha256: copied.sha256,
      mode: 0o600,
      uid: 0,
      gid: 0,
      stored: { ...fileStorage(holder, compress, false), size: copied.repoSize, block: copied.block },
    });
    const v1 = randomBytes(2 * 1024 * 1024);
    const base = entryOf(prior, await copy(prior, v1));
    const v2 = Buffer.from(v1);
    v2[5] = (v2[5] as number) ^ 1;
    const partial: PartialManifest = {
      backup: {
        label,
        type: 'incr',
        prior,
        timestampStart: 1_800_000_000,
        lsnStart: '0/2000028',
        walStart: '000000010000000000000002',
        timeline: 1,
        compressType: compress.type,
        compressLevel: compress.level,
        references: [prior],
        encrypted: false,
        checksumPage: true,
      },
      db: TEST_DB.current,
      targets: [{ name: 'pg_data', type: 'path', path: '/pg' }],
    };
    await repo.backups.begin(partial);
    const recorded = entryOf(label, await copy(label, v2, base));
    expect(recorded.stored.block?.parts.map((part) => part.holder)).toEqual([prior, label]);
    const source: DataDirEntry = {
      name,
      type: 'file',
      absolutePath: join(dir, 'no-such-file'),
      size: v2.length,
      mtime: 1,
      mode: 0o600,
      uid: 0,
      gid: 0,
    };
    const resumeWith = async () => {
      const resumable = new Resumable(
        repo,
        { backup: { ...found.backup, label, type: 'incr', prior }, db: TEST_DB.current, files: [recorded] },
        { compressType: 'zst', compressLevel: 3, cipher: 'none' },
      );
      await resumable.begin(partial);
      return resumable.reuse(source);
    };
    expect((await resumeWith())?.sha256).toBe(recorded.sha256);
    expect((await repo.backups.storedNames(label)).sort()).toEqual([`block-map/${name}.zst`, `${name}.zst`]);
    await writeFile(join(dir, 'backup', 'main', label, 'block-map', `${name}.zst`), 'damaged');
    expect(await resumeWith()).toBeUndefined();
  });
});

describe('Resumable with a bundled file a partial manifest records', () => {
  // A pgstash before the journal left bundled files out recorded them; such a partial manifest may still be found.
  it('copies it again, even when its bundle member is sound, and keeps a sound file stored alone', async () => {
    const dir = join(root, 'bundle');
    const repo = await emptyStanza(dir);
    const label = found.backup.label;
    const compress = { type: 'zst', level: 3 } as const;
    const entryOf = (name: string, measured: { size: number; sha256: string; repoSize: number }) => ({
      name,
      size: measured.size,
      mtime: 1,
      sha256: measured.sha256,
      mode: 0o600,
      uid: 0,
      gid: 0,
      stored: { ...fileStorage(label, compress, false), size: measured.repoSize },
    });
    const data = Buffer.from('a small file');
    const encoded = await repo.encodeInMemory(chunksOf(data), compress);
    const [offset] = await repo.backups.putBundle(
      label,
      1,
      (async function* () {
        yield { name: 'pg_data/small.zst', mtime: 1, stored: encoded.stored, size: encoded.file.repoSize };
      })(),
    );
    const small = entryOf('pg_data/small', encoded.file);
    const bundled: ManifestFile = {
      ...small,
      stored: { ...small.stored, bundle: { id: 1, offset: offset ?? -1 } },
    };
    // The member is sound: read by itself it gives the file back.
    const parts: Buffer[] = [];
    for await (const chunk of await repo.backups.requireFile(bundled)) parts.push(chunk);
    expect(Buffer.concat(parts)).toEqual(data);
    const alone = entryOf(
      'pg_data/alone',
      await repo.backups.putFile(label, 'pg_data/alone', [data], compress),
    );
    const resumable = new Resumable(
      repo,
      { ...found, files: [bundled, alone] },
      { compressType: 'zst', compressLevel: 3, cipher: 'none' },
    );
    const dataDirEntry = (file: ManifestFile): DataDirEntry => ({
      name: file.name,
      type: 'file',
      absolutePath: join(dir, file.name),
      size: file.size,
      mtime: file.mtime,
      mode: 0o600,
      uid: 0,
      gid: 0,
    });
    expect(await resumable.reuse(dataDirEntry(bundled))).toBeUndefined();
    expect((await resumable.reuse(dataDirEntry(alone)))?.name).toBe('pg_data/alone');
    expect(resumable.counts.files).toBe(1);
  });
});
