// Tests for the backup manifest: version 2 round trip, version 1 read as version 2, and validation by field.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgStashError } from '../../../src/common/errors.js';
import { writeInfoFile } from '../../../src/repo/info-file.js';
import { repoLayout } from '../../../src/repo/layout.js';
import {
  fileStorage,
  holdersOf,
  isEmptyFile,
  readManifest,
  storedFilePath,
  writeManifest,
  type Manifest,
  type ManifestFile,
} from '../../../src/repo/manifest.js';
import { Repository } from '../../../src/repo/repository.js';
import type { Driver } from '../../../src/storage/driver.js';
import { REPO_ROOT } from '../../harness/pgstash.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';
import { repoOptions } from '../../harness/repository.js';

/** A repository written by pgstash before manifest version 2 (see test/fixtures/manifest-v1/README.md). */
const V1_FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'manifest-v1', 'repo');
const V1_LABEL = '20261101-120000F';

const FULL = '20261201-010000F';
const INCR = '20261201-010000F_20261202-010000I';

let dir: string;
let driver: Driver;

beforeAll(async () => {
  dir = await createTempDir({ label: 'manifest' });
  driver = (await Repository.open(repoOptions(dir), 'main')).driver;
});

afterAll(async () => {
  await removeTempDir(dir);
});

function file(name: string, stored: Partial<ManifestFile['stored']> = {}): ManifestFile {
  return {
    name,
    size: 10,
    mtime: 1796000000,
    sha256: 'a'.repeat(64),
    mode: 0o600,
    uid: 26,
    gid: 26,
    user: 'postgres',
    group: 'postgres',
    stored: { holder: INCR, compressType: 'zst', compressLevel: 3, cipher: 'none', size: 19, ...stored },
  };
}

/** An incremental backup holding one file itself and referencing one of FULL, stored there with lz4. */
function sampleManifest(): Manifest {
  return {
    backup: {
      label: INCR,
      type: 'incr',
      prior: FULL,
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
      timezone: 'Europe/Paris',
      timezoneAbbreviations: 'Default',
      xidStart: '4294967297',
      xidStop: '4294967298',
      timeline: 1,
      checksumPage: true,
      references: [FULL],
    },
    db: {
      id: 1,
      version: '15',
      systemId: 7312345678901234567n,
      catalogVersion: 202209061,
      controlVersion: 1300,
    },
    targets: [{ name: 'pg_data', type: 'path', path: '/var/lib/postgresql/15/main' }],
    paths: [{ name: 'pg_data', mode: 0o700, uid: 26, gid: 26, user: 'postgres', group: 'postgres' }],
    links: [],
    files: [
      file('pg_data/base/1/1259', { holder: FULL, compressType: 'lz4', compressLevel: 1 }),
      { ...file('pg_data/global/pg_control'), pageChecksumErrors: [0, 3] },
    ],
  };
}

/** Writes `content` as the manifest of `label` exactly as given (no version added), for the reader to judge. */
async function writeRawManifest(label: string, content: unknown): Promise<string> {
  const path = repoLayout.manifest('main', label);
  await writeInfoFile(driver, path, { kind: 'backup.manifest', content });
  return `${dir}/${path}`;
}

/** The JSON content of the sample as writeManifest writes it, for tests to damage one field of. */
function sampleContent(): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify({ version: 2, ...sampleManifest() }, (_key, value: unknown) =>
      typeof value === 'bigint' ? value.toString() : value,
    ),
  ) as Record<string, unknown>;
}

async function readError(content: unknown): Promise<{ message: string; where: string }> {
  const where = await writeRawManifest(INCR, content);
  try {
    await readManifest(driver, 'main', INCR, undefined);
  } catch (error) {
    if (!isPgStashError(error, 'format')) throw error;
    return { message: error.message, where };
  }
  throw new Error('the manifest was accepted');
}

/** A backup outside the sample's chain. */
const OTHER = '20261101-000000F';

describe('writeManifest and readManifest', () => {
  it('read back a block-stored file: its block size, map and parts, every part holder a reference', async () => {
    const manifest = sampleManifest();
    const block = {
      blockSize: 8192,
      map: { size: 38, sha256: 'b'.repeat(64), storedSize: 40 },
      parts: [
        {
          ...fileStorage(FULL, { type: 'lz4', level: 1 }, false),
          size: 9000,
          originalSize: 16384,
          sha256: 'c'.repeat(64),
        },
        {
          ...fileStorage(INCR, { type: 'zst', level: 3 }, false),
          size: 100,
          originalSize: 8192,
          sha256: 'd'.repeat(64),
          // Recorded since restore skips the frames it does not need; a part without it (above) reads as before.
          frameSize: 65536,
        },
      ],
    };
    const files = [
      manifest.files[0]!,
      { ...manifest.files[1]!, stored: { ...manifest.files[1]!.stored, block } },
    ];
    await writeManifest(driver, 'main', { ...manifest, files }, undefined);
    const read = await readManifest(driver, 'main', INCR, undefined);
    expect(read.files[1]?.stored.block).toEqual(block);
    expect(read.files[0]?.stored.block).toBeUndefined();
  });

  it('write version 2 with a storage record per file, and read back the same model', async () => {
    const manifest = sampleManifest();
    await writeManifest(driver, 'main', manifest, undefined);
    const text = await readFile(join(dir, repoLayout.manifest('main', INCR)), 'utf8');
    const written = JSON.parse(text) as { content: { version: number; files: { stored: unknown }[] } };
    expect(written.content.version).toBe(2);
    expect(written.content.files[0]?.stored).toEqual({
      holder: FULL,
      compressType: 'lz4',
      compressLevel: 1,
      cipher: 'none',
      size: 19,
    });
    expect(await readManifest(driver, 'main', INCR, undefined)).toEqual(manifest);
  });

  it('read back an empty file recorded without a repository object (stored.empty), which reads as no bytes', async () => {
    const empty: ManifestFile = { ...file('pg_data/base/1/2224', { size: 0, empty: true }), size: 0 };
    const manifest = { ...sampleManifest(), files: [...sampleManifest().files, empty] };
    await writeManifest(driver, 'main', manifest, undefined);
    const read = await readManifest(driver, 'main', INCR, undefined);
    expect(read.files[2]?.stored.empty).toBe(true);
    expect(isEmptyFile(read.files[2] as ManifestFile)).toBe(true);
    expect(isEmptyFile(read.files[0] as ManifestFile)).toBe(false);
    expect(holdersOf(read.files[2] as ManifestFile)).toEqual([]);
  });

  it('locate each file in the backup holding it, with its own compression', () => {
    const [held, own] = sampleManifest().files;
    expect(storedFilePath('main', held as ManifestFile)).toBe(`backup/main/${FULL}/pg_data/base/1/1259.lz4`);
    expect(storedFilePath('main', own as ManifestFile)).toBe(
      `backup/main/${INCR}/pg_data/global/pg_control.zst`,
    );
  });
});

describe('a version 1 manifest', () => {
  it('reads as version 2: each file held by its own backup, stored with the backup-wide settings', async () => {
    const fixture = (await Repository.open(repoOptions(V1_FIXTURE), 'main')).driver;
    const manifest = await readManifest(fixture, 'main', V1_LABEL, undefined);
    expect(manifest.backup).toMatchObject({
      label: V1_LABEL,
      type: 'full',
      compressType: 'zst',
      compressLevel: 3,
      encrypted: false,
      timezone: 'UTC',
      xidStart: '742',
      xidStop: '743',
      timeline: 1,
      references: [],
    });
    expect(manifest.db.systemId).toBe(7312345678901234567n);
    expect(manifest.targets).toHaveLength(2);
    expect(manifest.links).toEqual([
      {
        name: 'pg_data/pg_tblspc/16385',
        destination: '/srv/ts1',
        uid: 26,
        gid: 26,
        user: 'postgres',
        group: 'postgres',
      },
    ]);
    expect(manifest.files.map((entry) => entry.name)).toEqual([
      'pg_data/PG_VERSION',
      'pg_data/backup_label',
      'pg_data/base/1/1259',
      'pg_data/base/1/2000',
      'pg_data/global/pg_control',
    ]);
    const raw = JSON.parse(
      await readFile(join(V1_FIXTURE, repoLayout.manifest('main', V1_LABEL)), 'utf8'),
    ) as { content: { files: { repoSize: number }[] } };
    manifest.files.forEach((entry, index) => {
      expect(entry.stored).toEqual({
        holder: V1_LABEL,
        compressType: 'zst',
        compressLevel: 3,
        cipher: 'none',
        size: raw.content.files[index]?.repoSize,
      });
    });
    expect(manifest.files[2]?.pageChecksumErrors).toEqual([2]);
  });

  it("takes a file's reference as its holder and lists it among the backup's references", async () => {
    const content = sampleContent();
    const v1 = {
      ...content,
      version: undefined,
      backup: { ...(content.backup as object), references: undefined },
      files: [
        { ...file('pg_data/base/1/1259'), stored: undefined, repoSize: 19, reference: FULL },
        { ...file('pg_data/global/pg_control'), stored: undefined, repoSize: 21 },
      ],
    };
    await writeRawManifest(INCR, v1);
    const manifest = await readManifest(driver, 'main', INCR, undefined);
    expect(manifest.backup.references).toEqual([FULL]);
    expect(manifest.files.map((entry) => entry.stored)).toEqual([
      { holder: FULL, compressType: 'zst', compressLevel: 3, cipher: 'none', size: 19 },
      { holder: INCR, compressType: 'zst', compressLevel: 3, cipher: 'none', size: 21 },
    ]);
  });
});

describe('readManifest refuses', () => {
  it('a version it does not know, naming the manifest and the version', async () => {
    const { message, where } = await readError({ ...sampleContent(), version: 3 });
    expect(message).toBe(`backup manifest '${where}' has version 3: this pgstash reads versions 1 to 2`);
  });

  it.each<[string, (content: Record<string, unknown>) => unknown, string]>([
    [
      'a compress type it does not know',
      (content) => withFile(content, 0, { stored: { ...storedOf(content, 0), compressType: 'xz' } }),
      `files[0].stored.compressType must be one of none, gz, lz4, zst (found "xz")`,
    ],
    [
      'a storage record field of a later format',
      (content) => withFile(content, 1, { stored: { ...storedOf(content, 1), dedup: { id: 1 } } }),
      'files[1].stored.dedup is not known to this pgstash (written by a newer version?)',
    ],
    [
      'an empty file with a stored size',
      (content) => withFile(content, 1, { size: 0, stored: { ...storedOf(content, 1), empty: true } }),
      'files[1].stored.size must be 0 for an empty file (found 19)',
    ],
    [
      'a file stored as empty whose size is not 0',
      (content) => withFile(content, 1, { stored: { ...storedOf(content, 1), size: 0, empty: true } }),
      'files[1].size must be 0 for a file stored as empty (found 10)',
    ],
    [
      'an empty flag that is not true',
      (content) => withFile(content, 1, { stored: { ...storedOf(content, 1), empty: false } }),
      'files[1].stored.empty must be true when present',
    ],
    [
      'a missing checksum',
      (content) => withFile(content, 1, { sha256: undefined }),
      'files[1].sha256 must be a string (missing)',
    ],
    [
      'a size that is not a whole number',
      (content) => withFile(content, 0, { size: '10' }),
      'files[0].size must be a whole number of at least 0 (found "10")',
    ],
    [
      'a name leading out of its target',
      (content) => withFile(content, 0, { name: 'pg_data/../../etc/passwd' }),
      'files[0].name must match',
    ],
    [
      'a holder that is not a backup label',
      (content) => withFile(content, 0, { stored: { ...storedOf(content, 0), holder: '../other' } }),
      'files[0].stored.holder must match',
    ],
    [
      'a holder missing from the references',
      (content) => ({ ...content, backup: { ...(content.backup as object), references: [] } }),
      `files[0].stored.holder '${FULL}' is neither the backup nor one of its references`,
    ],
    [
      'a block part held by a backup missing from the references',
      (content) =>
        withFile(content, 1, {
          stored: {
            ...storedOf(content, 1),
            block: {
              blockSize: 8192,
              map: { size: 24, sha256: 'b'.repeat(64), storedSize: 30 },
              parts: [
                {
                  holder: OTHER,
                  compressType: 'none',
                  compressLevel: 0,
                  cipher: 'none',
                  size: 8192,
                  originalSize: 8192,
                  sha256: 'c'.repeat(64),
                },
              ],
            },
          },
        }),
      `files[1].stored.block.parts[0].holder '${OTHER}' is neither the backup nor one of its references`,
    ],
    [
      'a block size below 8 KiB',
      (content) =>
        withFile(content, 1, {
          stored: {
            ...storedOf(content, 1),
            block: {
              ...{
                blockSize: 8192,
                map: { size: 24, sha256: 'b'.repeat(64), storedSize: 30 },
                parts: [
                  {
                    holder: OTHER,
                    compressType: 'none',
                    compressLevel: 0,
                    cipher: 'none',
                    size: 8192,
                    originalSize: 8192,
                    sha256: 'c'.repeat(64),
                  },
                ],
              },
              blockSize: 512,
            },
          },
        }),
      'files[1].stored.block.blockSize must be a whole number of at least 8192',
    ],
    [
      'a file list that is not an array',
      (content) => ({ ...content, files: {} }),
      'files must be an array (found {})',
    ],
    [
      'a malformed transaction id',
      (content) => ({ ...content, backup: { ...(content.backup as object), xidStop: '12a' } }),
      'backup.xidStop must match',
    ],
  ])('%s, naming the manifest and the field', async (_name, damage, expected) => {
    const { message, where } = await readError(damage(sampleContent()));
    expect(message.startsWith(`invalid backup manifest '${where}': ${expected}`)).toBe(true);
  });
});

function filesOf(content: Record<string, unknown>): Record<string, unknown>[] {
  return content.files as Record<string, unknown>[];
}

function storedOf(content: Record<string, unknown>, index: number): object {
  return filesOf(content)[index]?.stored as object;
}

function withFile(content: Record<string, unknown>, index: number, change: object): Record<string, unknown> {
  const files = filesOf(content).map((entry, at) => (at === index ? { ...entry, ...change } : entry));
  return { ...content, files };
}
