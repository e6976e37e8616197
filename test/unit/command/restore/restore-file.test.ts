// Tests for restoreFile: each file is read as its own manifest entry stores it (holder, compression, cipher).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgStashError } from '../../../../src/common/errors.js';
import { defaultCompressLevel, type CompressType } from '../../../../src/io/compress.js';
import { CHUNK_SIZE } from '../../../../src/io/chunker.js';
import { destinationOf, type ResolvedTarget } from '../../../../src/command/restore/destination.js';
import { restoreFile } from '../../../../src/command/restore/restore-file.js';
import {
  readManifest,
  storedFilePath,
  writeManifest,
  type CipherType,
  type Manifest,
  type ManifestFile,
} from '../../../../src/repo/manifest.js';
import { Repository } from '../../../../src/repo/repository.js';
import { REPO_ROOT } from '../../../harness/pgstash.js';
import { createTempDir, removeTempDir } from '../../../harness/tmp.js';
import { makeData, sha256 } from '../../io/helpers.js';
import { repoOptions } from '../../../harness/repository.js';

/** A repository written by pgstash before manifest version 2 (see test/fixtures/manifest-v1/README.md). */
const V1_FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'manifest-v1', 'repo');
const V1_LABEL = '20261101-120000F';

const FULL = '20261201-010000F';
const INCR = '20261201-010000F_20261202-010000I';

let dir: string;

beforeAll(async () => {
  dir = await createTempDir({ label: 'restore-file' });
});

afterAll(async () => {
  await removeTempDir(dir);
});

async function* chunksOf(data: Buffer): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < data.length; offset += CHUNK_SIZE)
    yield data.subarray(offset, offset + CHUNK_SIZE);
}

/** The repository at `path` as a backup with cipher `cipher` writes it (the key is the stanza's data key). */
function repoAt(path: string, cipher: CipherType, key: Buffer | undefined): Promise<Repository> {
  const options = repoOptions(path, { cipherType: cipher });
  return Repository.openInWorker(options, 'main', cipher === 'none' ? undefined : key);
}

/** Stores `data` as backup `holder` stores it (with `compressType`), and the manifest entry that says so. */
async function store(
  repo: Repository,
  name: string,
  data: Buffer,
  holder: string,
  compressType: CompressType,
  cipher: CipherType,
): Promise<ManifestFile> {
  const entry = {
    name,
    mtime: 1796000000,
    mode: 0o640,
    uid: 0,
    gid: 0,
    stored: { holder, compressType, compressLevel: defaultCompressLevel(compressType), cipher, size: 0 },
  };
  const stored = await repo.putChunks(chunksOf(data), storedFilePath('main', entry), {
    type: compressType,
    level: entry.stored.compressLevel,
  });
  return {
    ...entry,
    size: stored.size,
    sha256: stored.sha256,
    stored: { ...entry.stored, size: stored.repoSize },
  };
}

function manifestOf(label: string, files: ManifestFile[], references: string[]): Manifest {
  return {
    backup: {
      label,
      type: references.length === 0 ? 'full' : 'incr',
      ...(references.length === 0 ? {} : { prior: references[0] }),
      timestampStart: 1796000000,
      timestampStop: 1796000010,
      lsnStart: '0/5000028',
      lsnStop: '0/5000138',
      walStart: '000000010000000000000005',
      walStop: '000000010000000000000005',
      compressType: 'zst',
      compressLevel: 3,
      encrypted: false,
      archiveCopy: false,
      timeline: 1,
      checksumPage: false,
      references,
    },
    db: { id: 1, version: '15', systemId: 1n, catalogVersion: 202209061, controlVersion: 1300 },
    targets: [{ name: 'pg_data', type: 'path', path: '/var/lib/postgresql/15/main' }],
    paths: [],
    links: [],
    files,
  };
}

/** The SHA-256 of a restored file (a deep comparison of megabyte buffers takes seconds). */
async function restored(into: string, name: string): Promise<string> {
  return sha256(await readFile(join(into, name)));
}

async function restoreInto(repo: Repository, manifest: Manifest, into: string): Promise<void> {
  const targets: ResolvedTarget[] = [{ target: manifest.targets[0]!, path: into, given: true }];
  for (const entry of manifest.files) {
    await mkdir(dirname(destinationOf(entry.name, targets)), { recursive: true });
    await restoreFile(repo, entry, { targets, restoreOwner: false });
  }
}

describe('restoreFile', () => {
  it.each<[string, CipherType]>([
    ['unencrypted', 'none'],
    ['encrypted', 'aes-256-gcm'],
  ])(
    'restores an incremental exactly when a file is held by an older backup stored with another compress type (%s)',
    async (name, cipher) => {
      const path = join(dir, `repo-${name}`);
      const key = randomBytes(32);
      const repo = await repoAt(path, cipher, key);
      // Large enough to be streamed, and a small one read whole (Repository.getChunks).
      const large = makeData(2 * CHUNK_SIZE + 4099, 'mixed', 3);
      const small = makeData(5000, 'text', 4);
      const own = makeData(CHUNK_SIZE + 1, 'mixed', 5);
      // The full backup ran with compress-type=lz4, the incremental with zst after the option changed.
      const heldLarge = await store(repo, 'pg_data/base/1/16384', large, FULL, 'lz4', cipher);
      const heldSmall = await store(repo, 'pg_data/base/1/16385', small, FULL, 'lz4', cipher);
      const ownFile = await store(repo, 'pg_data/base/1/16386', own, INCR, 'zst', cipher);
      const stanzaKey = cipher === 'none' ? undefined : key;
      const written = manifestOf(INCR, [heldLarge, heldSmall, ownFile], [FULL]);
      await writeManifest(repo.driver, 'main', written, stanzaKey);

      const manifest = await readManifest(repo.driver, 'main', INCR, stanzaKey);
      const into = join(dir, `restored-${name}`);
      await restoreInto(repo, manifest, into);
      expect(await restored(into, 'base/1/16384')).toBe(sha256(large));
      expect(await restored(into, 'base/1/16385')).toBe(sha256(small));
      expect(await restored(into, 'base/1/16386')).toBe(sha256(own));
      const info = await stat(join(into, 'base/1/16384'));
      expect(info.mode & 0o7777).toBe(0o640);
      expect(info.mtimeMs).toBe(1796000000 * 1000);
    },
  );

  it("reads a file with its own cipher, not the repository's", async () => {
    const path = join(dir, 'repo-mixed-cipher');
    const key = randomBytes(32);
    const plain = await repoAt(path, 'none', undefined);
    const data = makeData(70000, 'mixed', 6);
    const entry = await store(plain, 'pg_data/PG_VERSION', data, FULL, 'gz', 'none');
    const encrypted = await repoAt(path, 'aes-256-gcm', key);
    const into = join(dir, 'restored-mixed-cipher');
    await restoreInto(encrypted, manifestOf(INCR, [entry], [FULL]), into);
    expect(await restored(into, 'PG_VERSION')).toBe(sha256(data));

    // And an encrypted file in a repository opened without a key is a crypto error naming it.
    const sealed = await store(encrypted, 'pg_data/base/1/1', data, INCR, 'none', 'aes-256-gcm');
    const error = await restoreInto(plain, manifestOf(INCR, [sealed], [FULL]), into).catch(
      (caught: unknown) => caught,
    );
    expect(isPgStashError(error, 'crypto')).toBe(true);
    expect(String(error)).toContain(`${path}/backup/main/${INCR}/pg_data/base/1/1' is encrypted`);
  });

  it('restores every file of a version 1 manifest written by an older pgstash', async () => {
    const repo = await repoAt(V1_FIXTURE, 'none', undefined);
    const manifest = await readManifest(repo.driver, 'main', V1_LABEL, undefined);
    const into = join(dir, 'restored-v1');
    await restoreInto(repo, manifest, into);
    // The fixture's content (test/fixtures/manifest-v1/README.md): byte i of a generated file with seed s is
    // ((i >> 6) * 31 + s) & 0xff.
    const generated = (seed: number, length: number) =>
      Buffer.from(Array.from({ length }, (_, i) => ((i >> 6) * 31 + seed) & 0xff));
    expect(await readFile(join(into, 'PG_VERSION'), 'utf8')).toBe('15\n');
    expect(await restored(into, 'base/1/1259')).toBe(sha256(generated(1, 3 * 8192)));
    expect(await restored(into, 'base/1/2000')).toBe(sha256(Buffer.alloc(0)));
    expect(await restored(into, 'global/pg_control')).toBe(sha256(generated(7, 8192)));
    expect(await readFile(join(into, 'backup_label'), 'utf8')).toBe(
      'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n',
    );
  });
});
