// Tests for BackupStore: begin writes a partial manifest, files go in and come back verified, commit writes the
// manifest then backup.info, remove takes the backup.info entry first, incomplete lists leftovers.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isPgStashError } from '../../../src/common/errors.js';
import type { BackupRecord } from '../../../src/repo/backup-info.js';
import type { PartialManifest } from '../../../src/repo/backup-store.js';
import { fileStorage, type Manifest, type ManifestFile } from '../../../src/repo/manifest.js';
import { Repository, type StoredFile } from '../../../src/repo/repository.js';
import { emptyStanza, repoOptions, TEST_DB } from '../../harness/repository.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';

const DB = TEST_DB;
const OWNER = { mode: 0o600, uid: 0, gid: 0 };
const COMPRESS = { type: 'lz4', level: 1 } as const;

let root: string;

beforeAll(async () => {
  root = await createTempDir({ label: 'backup-store' });
});

afterAll(async () => {
  await removeTempDir(root);
});

/** A stanza with an empty backup.info, encrypted or not. */
function stanza(label: string, encrypted = false): Promise<Repository> {
  return emptyStanza(join(root, label), { encrypted });
}

function partial(label: string): PartialManifest {
  return {
    backup: {
      label,
      type: 'full',
      timestampStart: 1_700_000_000,
      lsnStart: '0/2000028',
      walStart: '000000010000000000000002',
      timeline: 1,
      compressType: COMPRESS.type,
      compressLevel: COMPRESS.level,
      references: [],
      encrypted: false,
      checksumPage: true,
    },
    db: DB.current,
    targets: [{ name: 'pg_data', type: 'path', path: '/pg' }],
  };
}

function complete(label: string, files: ManifestFile[]): { manifest: Manifest; record: BackupRecord } {
  const begun = partial(label);
  const span = {
    ...begun.backup,
    timestampStop: 1_700_000_010,
    lsnStop: '0/2000100',
    walStop: '000000010000000000000002',
    archiveCopy: false,
  };
  const manifest: Manifest = { ...begun, backup: span, paths: [], links: [], files };
  const record: BackupRecord = {
    label,
    type: 'full',
    timestampStart: span.timestampStart,
    timestampStop: span.timestampStop,
    lsnStart: span.lsnStart,
    lsnStop: span.lsnStop,
    walStart: span.walStart,
    walStop: span.walStop,
    compressType: span.compressType,
    encrypted: false,
    archiveCopy: false,
    dbId: 1,
    size: files.reduce((sum, file) => sum + file.size, 0),
    repoSize: files.reduce((sum, file) => sum + file.stored.size, 0),
    fileCount: files.length,
    pageChecksumErrors: 0,
  };
  return { manifest, record };
}

/** The manifest entry of `name`, stored in backup `label` as `stored` says. */
async function entryOf(
  repo: Repository,
  label: string,
  name: string,
  stored: StoredFile,
): Promise<ManifestFile> {
  const encrypted = (await repo.key()) !== undefined;
  return {
    name,
    mtime: 1,
    size: stored.size,
    sha256: stored.sha256,
    ...OWNER,
    stored: { ...fileStorage(label, COMPRESS, encrypted), size: stored.repoSize },
  };
}

async function* chunksOf(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

async function bytesOf(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Takes backup `label` through the whole lifecycle with one file; its manifest entry. */
async function takeBackup(repo: Repository, label: string, data: Buffer): Promise<ManifestFile> {
  await repo.backups.begin(partial(label));
  const stored = await repo.backups.putFile(label, 'pg_data/PG_VERSION', chunksOf(data), COMPRESS, {
    sync: false,
  });
  const file = await entryOf(repo, label, 'pg_data/PG_VERSION', stored);
  const { manifest, record } = complete(label, [file]);
  await repo.backups.commit(manifest, record);
  return file;
}

describe('BackupStore', () => {
  it('begins with a partial manifest that info and restore never see, then commits manifest and backup.info', async () => {
    const repo = await stanza('lifecycle');
    const label = '20261206-120000F';
    await repo.backups.begin(partial(label));
    const dir = join(root, 'lifecycle', 'backup', 'main', label);
    // No .copy of the partial manifest: a record replaced whole, which only a resume reads.
    expect((await readdir(dir)).sort()).toEqual(['backup.manifest.partial']);
    expect(await repo.backups.list()).toEqual([]);
    expect(await repo.backups.incomplete(await repo.backups.requireInfo())).toEqual([label]);
    // A second begin of the same label is refused.
    const again = await repo.backups.begin(partial(label)).catch((error: unknown) => error);
    expect(isPgStashError(again, 'assert')).toBe(true);

    const data = Buffer.from('15\n');
    const stored = await repo.backups.putFile(label, 'pg_data/PG_VERSION', chunksOf(data), COMPRESS);
    const file = await entryOf(repo, label, 'pg_data/PG_VERSION', stored);
    const { manifest, record } = complete(label, [file]);
    await repo.backups.commit(manifest, record);
    expect((await readdir(dir)).sort()).toEqual(['backup.manifest', 'backup.manifest.copy', 'pg_data']);
    expect((await repo.backups.list()).map((backup) => backup.label)).toEqual([label]);
    expect((await repo.backups.manifest(label)).files).toEqual([file]);
    expect(await repo.backups.incomplete(await repo.backups.requireInfo())).toEqual([]);
    expect((await bytesOf(await repo.backups.requireFile(file))).equals(data)).toBe(true);
  });

  it('writes the manifest before backup.info: a commit that fails there leaves the backup unlisted', async () => {
    const repo = await stanza('commit-fails');
    const label = '20261206-120000F';
    await repo.backups.begin(partial(label));
    const { manifest, record } = complete(label, []);
    vi.spyOn(repo, 'writeBackupInfo').mockRejectedValueOnce(new Error('killed'));
    await expect(repo.backups.commit(manifest, record)).rejects.toThrow('killed');
    expect(await repo.backups.list()).toEqual([]);
    expect(await repo.backups.incomplete(await repo.backups.requireInfo())).toEqual([label]);
  });

  it('removes the backup.info entry before the files: a removal killed between them leaves an unlisted leftover', async () => {
    const repo = await stanza('remove');
    const kept = '20261206-110000F';
    const removed = '20261206-120000F';
    await takeBackup(repo, kept, Buffer.from('a'));
    await takeBackup(repo, removed, Buffer.from('b'));
    const removeTree = vi.spyOn(repo.driver, 'removeTree').mockRejectedValueOnce(new Error('killed'));
    await expect(repo.backups.remove(removed)).rejects.toThrow('killed');
    expect((await repo.backups.list()).map((backup) => backup.label)).toEqual([kept]);
    expect(await repo.backups.hasDirectory(removed)).toBe(true);
    removeTree.mockRestore();
    // The next removal (the next backup's cleanup, or the next expire) finishes the job.
    const info = await repo.backups.requireInfo();
    expect(await repo.backups.incomplete(info)).toEqual([removed]);
    await repo.backups.remove(removed);
    expect(await repo.backups.hasDirectory(removed)).toBe(false);
    expect((await repo.backups.list()).map((backup) => backup.label)).toEqual([kept]);
  });

  it('abandons a backup that never committed, and reports a missing file (55) naming it', async () => {
    const repo = await stanza('abandon', true);
    const label = '20261206-120000F';
    const file = await takeBackup(repo, label, Buffer.from('x'.repeat(5000)));
    const gone: ManifestFile = { ...file, name: 'pg_data/missing' };
    expect(await repo.backups.readFile(gone)).toBeUndefined();
    const missing = await repo.backups.requireFile(gone).catch((error: unknown) => error);
    expect(isPgStashError(missing, 'fileMissing')).toBe(true);
    expect((missing as Error).message).toBe(
      `backup file '${join(root, 'abandon')}/backup/main/${label}/pg_data/missing.lz4' is missing`,
    );
    const next = '20261206-130000F';
    await repo.backups.begin(partial(next));
    await repo.backups.abandon(next);
    expect(await repo.backups.hasDirectory(next)).toBe(false);
    expect((await repo.backups.list()).map((backup) => backup.label)).toEqual([label]);
  });

  it('fails with 55 and a stanza-create hint when backup.info is missing', async () => {
    const repo = await Repository.open(repoOptions(join(root, 'none')), 'main');
    expect(await repo.backups.info()).toBeUndefined();
    const error = await repo.backups.list().catch((caught: unknown) => caught);
    expect(isPgStashError(error, 'fileMissing')).toBe(true);
    expect((error as Error).message).toBe("repo1: backup.info is missing for stanza 'main'");
  });

  it('keeps a history copy of a manifest, compressed as the backup and encrypted as the repository, read back whole', async () => {
    for (const encrypted of [false, true]) {
      const repo = await stanza(`history-${encrypted}`, encrypted);
      const label = '20261206-101010F';
      const file = await takeBackup(repo, label, Buffer.from('15\n'));
      const { manifest } = complete(label, [file]);
      await repo.backups.history.write(manifest);
      const name = `${label}.manifest.lz4`;
      expect(await repo.backups.history.list()).toEqual([{ label, year: '2026', name }]);
      const stored = await readFile(join(repo.location, 'backup/main/backup.history/2026', name));
      // An lz4 frame (magic 04 22 4d 18), or ciphertext: neither the frame nor the JSON in clear.
      expect(stored.subarray(0, 4).toString('hex') === '04224d18').toBe(!encrypted);
      if (encrypted) expect(stored.includes(Buffer.from('backup.manifest'))).toBe(false);
      expect(await repo.backups.history.manifest(label)).toEqual(await repo.backups.manifest(label));
      await repo.backups.history.remove({ label, year: '2026', name });
      expect(await readdir(join(repo.location, 'backup/main/backup.history'))).toEqual([]);
      const missing = await repo.backups.history.manifest(label).catch((caught: unknown) => caught);
      expect(isPgStashError(missing, 'fileMissing')).toBe(true);
    }
  });

  it('keeps annotations and the pin in the manifest too: backup.info rebuilt from the manifests has them', async () => {
    for (const encrypted of [false, true]) {
      const repo = await stanza(`annotate-${encrypted}`, encrypted);
      const label = '20261206-111111F';
      await takeBackup(repo, label, Buffer.from('15\n'));
      const noted = await repo.backups.update(label, (record) => ({
        ...record,
        annotation: { ticket: 'DBA-42' },
        pinned: true,
      }));
      expect((await repo.backups.manifest(label)).backup).toMatchObject({
        annotation: { ticket: 'DBA-42' },
        pinned: true,
      });
      // Unpinned again: the field goes from both.
      const { pinned: _pinned, ...unpinned } = noted;
      void _pinned;
      await repo.backups.update(label, () => unpinned);
      expect('pinned' in (await repo.backups.manifest(label)).backup).toBe(false);
      await repo.backups.update(label, () => noted);

      // backup.info lost: the record listed again has the annotation and the pin.
      const info = await repo.backups.requireInfo();
      const { info: rebuilt, added } = await repo.backups.reconcile({ ...info, backups: [] });
      expect(added).toEqual([label]);
      expect(rebuilt.backups).toHaveLength(1);
      expect(rebuilt.backups[0]).toMatchObject({ label, annotation: { ticket: 'DBA-42' }, pinned: true });
    }
  });
});
