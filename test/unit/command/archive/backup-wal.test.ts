// Tests for missingBackupWal: which of a backup's segments the archive lacks, within and across xlogid directories.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeSegments, missingBackupWal } from '../../../../src/command/archive/backup-wal.js';
import { repoLayout } from '../../../../src/repo/layout.js';
import { Repository } from '../../../../src/repo/repository.js';
import { createTempDir, removeTempDir } from '../../../harness/tmp.js';
import { repoOptions } from '../../../harness/repository.js';

const ID = '15-1';
const SHA = 'a'.repeat(64);
const MiB = 1024 * 1024;

let root: string;

beforeAll(async () => {
  root = await createTempDir({ label: 'backup-wal' });
});

afterAll(async () => {
  await removeTempDir(root);
});

/** A repository whose archive holds the segments `names` (under archive id 15-1). */
async function repoWith(label: string, names: readonly string[]): Promise<Repository> {
  const path = join(root, label);
  const repo = await Repository.openInWorker(repoOptions(path), 'main', undefined);
  for (const name of names) {
    const dir = join(path, repoLayout.walDirectory('main', ID, name));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${name}-${SHA}.zst`), 'x');
  }
  return repo;
}

const backup = (walStart: string, walStop: string, archiveCopy = false) => ({
  label: '20261206-120000F',
  walStart,
  walStop,
  archiveCopy,
});

describe('missingBackupWal', () => {
  it('names the segments of the range that are not archived, without asking the segment size in one directory', async () => {
    const repo = await repoWith('one-dir', ['000000010000000000000003', '000000010000000000000005']);
    const segmentSize = (): Promise<number> => Promise.reject(new Error('not needed'));
    expect(
      await missingBackupWal(repo, [ID], backup('000000010000000000000003', '000000010000000000000006'), {
        segmentSize,
      }),
    ).toEqual(['000000010000000000000004', '000000010000000000000006']);
    expect(
      await missingBackupWal(repo, [ID], backup('000000010000000000000005', '000000010000000000000005'), {
        segmentSize,
      }),
    ).toEqual([]);
  });

  it('across an xlogid directory, the segment size says where the first one ends', async () => {
    const repo = await repoWith('two-dirs', ['0000000100000000000000FF', '000000010000000100000001']);
    // 16 MiB segments: ...00FF is the last of its directory, then ...0100000000.
    expect(
      await missingBackupWal(repo, [ID], backup('0000000100000000000000FE', '000000010000000100000001'), {
        segmentSize: () => Promise.resolve(16 * MiB),
      }),
    ).toEqual(['0000000100000000000000FE', '000000010000000100000000']);
  });

  it('nothing is missing from an archive-copy backup, and everything from an empty archive', async () => {
    const repo = await repoWith('empty', []);
    expect(
      await missingBackupWal(
        repo,
        [ID],
        backup('000000010000000000000003', '000000010000000000000003', true),
      ),
    ).toEqual([]);
    expect(
      await missingBackupWal(repo, [], backup('000000010000000000000003', '000000010000000000000004')),
    ).toEqual(['000000010000000000000003', '000000010000000000000004']);
  });

  it('describes a long list briefly', () => {
    expect(describeSegments(['A', 'B'])).toBe('A, B');
    expect(describeSegments(['A', 'B', 'C', 'D', 'E', 'F'])).toBe('A, B ... F (6 segments)');
  });
});
