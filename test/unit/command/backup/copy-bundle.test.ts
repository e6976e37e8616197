// Tests for copyBundle: small files become members of one bundle; a file that outgrew the bundle limit since it
// was listed is stored alone, and the backup's progress counts its bytes once (not its first reading as a member
// beside its copy alone).
import { randomBytes } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBundle, type BundleEntry } from '../../../../src/command/backup/copy-bundle.js';
import { ProgressCounter } from '../../../../src/command/progress/counter.js';
import type { Repository } from '../../../../src/repo/repository.js';
import { emptyStanza } from '../../../harness/repository.js';
import { createTempDir, removeTempDir } from '../../../harness/tmp.js';

const MiB = 1024 * 1024;
const LIMIT = 2 * MiB;
const SETTINGS = {
  label: '20261207-020000F',
  compress: { type: 'lz4', level: 1 },
  checksumPage: false,
  startLsn: 0n,
} as const;

let root: string;
let repo: Repository;
let source: string;

beforeAll(async () => {
  root = await createTempDir({ label: 'copy-bundle' });
  repo = await emptyStanza(join(root, 'repo'));
  source = join(root, 'pg');
  await mkdir(source);
});

afterAll(async () => {
  await removeTempDir(root);
});

/** A source file of `size` random bytes, listed as `listedSize` bytes (smaller when it grew since it was listed). */
async function sourceFile(name: string, size: number, listedSize = size): Promise<BundleEntry> {
  const absolutePath = join(source, name);
  await writeFile(absolutePath, randomBytes(size));
  const mtime = Math.floor((await stat(absolutePath)).mtimeMs / 1000);
  return { name: `pg_data/${name}`, absolutePath, size: listedSize, mtime };
}

describe('copyBundle', () => {
  it('counts a file that outgrew the limit once in progress, stored alone beside the members', async () => {
    // Listed at 8 KiB, 3 MiB when read: its first MiB is read as a member before it reaches the 2 MiB limit.
    const entries = [
      await sourceFile('a', 100_000),
      await sourceFile('grown', 3 * MiB, 8192),
      await sourceFile('c', 5000),
    ];
    const progress = new ProgressCounter();
    const copied = await copyBundle(repo, entries, SETTINGS, { id: 1, limit: LIMIT }, progress);
    expect(copied.map((file) => file?.size)).toEqual([100_000, 3 * MiB, 5000]);
    expect(copied[0]?.bundle?.id).toBe(1);
    expect(copied[1]?.bundle).toBeUndefined();
    expect(copied[2]?.bundle?.id).toBe(1);
    expect(progress.bytes).toBe(100_000 + 3 * MiB + 5000);
  });

  it('counts each member once, after it is read whole', async () => {
    const entries = [await sourceFile('d', 1_500_000), await sourceFile('e', 70_000)];
    const progress = new ProgressCounter();
    const copied = await copyBundle(repo, entries, SETTINGS, { id: 2, limit: LIMIT }, progress);
    expect(copied.every((file) => file?.bundle?.id === 2)).toBe(true);
    expect(progress.bytes).toBe(1_570_000);
  });
});
