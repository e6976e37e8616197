// Tests for findArchivedWal: one copy found whatever its compression, none, and copies with different content.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findArchivedWal } from '../../../../src/command/archive/find.js';
import { isPgStashError } from '../../../../src/common/errors.js';
import { repoLayout } from '../../../../src/repo/layout.js';
import { Repository } from '../../../../src/repo/repository.js';
import { createTempDir, removeTempDir } from '../../../harness/tmp.js';

const WAL = '000000010000000000000003';
const ID = '15-1';
const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

let root: string;

beforeAll(async () => {
  root = await createTempDir({ label: 'find' });
});

afterAll(async () => {
  await removeTempDir(root);
});

/** A repository whose archive directory for WAL holds files named `names`. */
async function repoWith(label: string, names: readonly string[]): Promise<Repository> {
  const path = join(root, label);
  const repo = await Repository.openInWorker(
    { index: 1, type: 'posix', path, cipherType: 'none' },
    'main',
    undefined,
  );
  const dir = join(path, repoLayout.walDirectory('main', ID, WAL));
  await mkdir(dir, { recursive: true });
  for (const name of names) await writeFile(join(dir, name), 'x');
  return repo;
}

describe('findArchivedWal', () => {
  it('finds the one copy, whatever its compression, and ignores other segments and pending files', async () => {
    const repo = await repoWith('one', [
      `${WAL}-${SHA_A}.lz4`,
      `000000010000000000000004-${SHA_B}.zst`,
      `.${WAL}.0123456789ab.pending`,
    ]);
    expect(await findArchivedWal(repo, ID, WAL)).toEqual({
      path: `${repoLayout.walDirectory('main', ID, WAL)}/${WAL}-${SHA_A}.lz4`,
      sha256: SHA_A,
    });
  });

  it('is undefined when the segment is not there', async () => {
    const repo = await repoWith('none', [`000000010000000000000004-${SHA_B}.zst`]);
    expect(await findArchivedWal(repo, ID, WAL)).toBeUndefined();
  });

  it('takes copies of the same content as one: the first by name', async () => {
    const repo = await repoWith('same', [`${WAL}-${SHA_A}.zst`, `${WAL}-${SHA_A}.lz4`, `${WAL}-${SHA_A}`]);
    const found = await findArchivedWal(repo, ID, WAL);
    expect(found?.path.endsWith(`/${WAL}-${SHA_A}`)).toBe(true);
    expect(found?.sha256).toBe(SHA_A);
  });

  it('fails with 45 naming both copies when their contents differ', async () => {
    const repo = await repoWith('different', [`${WAL}-${SHA_B}.zst`, `${WAL}-${SHA_A}.zst`]);
    const error: unknown = await findArchivedWal(repo, ID, WAL).catch((caught: unknown) => caught);
    expect(isPgStashError(error, 'archiveDuplicate')).toBe(true);
    expect((error as Error).message).toBe(
      `WAL file '${WAL}' is in the repo1 archive with different contents: ${WAL}-${SHA_A}.zst, ${WAL}-${SHA_B}.zst`,
    );
  });
});
