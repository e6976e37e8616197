// Tests for WalArchive: find (whatever the compression; copies with different content fail), put, listings, range,
// remove of a range, and the archive ids of the current cluster.
import { createHash } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgStashError } from '../../../src/common/errors.js';
import { newDbHistory } from '../../../src/repo/db-history.js';
import { repoLayout } from '../../../src/repo/layout.js';
import { Repository } from '../../../src/repo/repository.js';
import { repoOptions } from '../../harness/repository.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';

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
  const repo = await Repository.openInWorker(repoOptions(path), 'main', undefined);
  const dir = join(path, repoLayout.walDirectory('main', ID, WAL));
  await mkdir(dir, { recursive: true });
  for (const name of names) await writeFile(join(dir, name), 'x');
  return repo;
}

describe('WalArchive.find', () => {
  it('finds the one copy, whatever its compression, and ignores other segments and pending files', async () => {
    const repo = await repoWith('one', [
      `${WAL}-${SHA_A}.lz4`,
      `000000010000000000000004-${SHA_B}.zst`,
      `.${WAL}.0123456789ab.pending`,
    ]);
    expect(await repo.wal.find(ID, WAL)).toEqual({
      path: `${repoLayout.walDirectory('main', ID, WAL)}/${WAL}-${SHA_A}.lz4`,
      sha256: SHA_A,
    });
  });

  it('is undefined when the segment is not there', async () => {
    const repo = await repoWith('none', [`000000010000000000000004-${SHA_B}.zst`]);
    expect(await repo.wal.find(ID, WAL)).toBeUndefined();
  });

  it('takes copies of the same content as one: the first by name', async () => {
    const repo = await repoWith('same', [`${WAL}-${SHA_A}.zst`, `${WAL}-${SHA_A}.lz4`, `${WAL}-${SHA_A}`]);
    const found = await repo.wal.find(ID, WAL);
    expect(found?.path.endsWith(`/${WAL}-${SHA_A}`)).toBe(true);
    expect(found?.sha256).toBe(SHA_A);
  });

  it('fails with 45 naming both copies when their contents differ', async () => {
    const repo = await repoWith('different', [`${WAL}-${SHA_B}.zst`, `${WAL}-${SHA_A}.zst`]);
    const error: unknown = await repo.wal.find(ID, WAL).catch((caught: unknown) => caught);
    expect(isPgStashError(error, 'archiveDuplicate')).toBe(true);
    expect((error as Error).message).toBe(
      `WAL file '${WAL}' is in the repo1 archive with different contents: ${WAL}-${SHA_A}.zst, ${WAL}-${SHA_B}.zst`,
    );
  });
});

const DB = { version: '15', systemId: 7n, catalogVersion: 202209061, controlVersion: 1300 };

/** WAL input for put from one buffer. */
function input(data: Buffer): Parameters<Repository['wal']['put']>[2] {
  async function* chunks(): AsyncGenerator<Buffer> {
    yield data;
  }
  return {
    chunks: () => ({ chunks: chunks(), release: () => undefined }),
    sha256: () => Promise.resolve(createHash('sha256').update(data).digest('hex')),
  };
}

describe('WalArchive', () => {
  it('puts a WAL file named by its checksum, with its claim, and reads it back verified', async () => {
    const repo = await repoWith('put', []);
    const data = Buffer.from('wal content '.repeat(1000));
    const sha = createHash('sha256').update(data).digest('hex');
    const stored = await repo.wal.put(ID, WAL, input(data), { type: 'zst', level: 3 });
    expect(stored.sha256).toBe(sha);
    const found = await repo.wal.find(ID, WAL);
    expect(found?.sha256).toBe(sha);
    expect(found?.path.endsWith(`/${WAL}-${sha}.zst`)).toBe(true);
    const dir = join(root, 'put', repoLayout.walDirectory('main', ID, WAL));
    expect((await readdir(dir)).sort()).toEqual([`${WAL}-${sha}.zst`, `${WAL}.claim`]);
    const parts: Buffer[] = [];
    for await (const chunk of (await repo.wal.read(found ?? { path: '', sha256: '' })) ?? [])
      parts.push(chunk);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    // Another content for the same name is refused (45), and nothing of it is stored.
    const other = await repo.wal.put(ID, WAL, input(Buffer.from('other')), { type: 'none', level: 0 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isPgStashError(other, 'archiveDuplicate')).toBe(true);
    expect((await readdir(dir)).sort()).toEqual([`${WAL}-${sha}.zst`, `${WAL}.claim`]);
  });

  it('lists segment directories, the files in one, history files, and the range of segments', async () => {
    const repo = await repoWith('list', []);
    const write = async (name: string): Promise<void> => {
      const dir = join(root, 'list', repoLayout.walDirectory('main', ID, name));
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, `${name}-${SHA_A}.zst`), 'x');
    };
    for (const name of [
      '000000010000000000000003',
      '000000010000000000000004.partial',
      '000000010000000100000001',
      '000000010000000200000000.00000028.backup',
      '00000002.history',
    ])
      await write(name);
    expect(await repo.wal.segmentDirectories(ID)).toEqual([
      '0000000100000000',
      '0000000100000001',
      '0000000100000002',
    ]);
    expect(await repo.wal.segmentDirectories(ID, { prefix: '00000002' })).toEqual([]);
    expect((await repo.wal.filesIn(ID, '0000000100000000')).map((file) => file.walFileName)).toEqual([
      '000000010000000000000003',
      '000000010000000000000004.partial',
    ]);
    const history = await repo.wal.historyFiles(ID);
    expect(history.map((file) => [file.walFileName, file.sha256, file.extension])).toEqual([
      ['00000002.history', SHA_A, '.zst'],
    ]);
    // Partial, backup and history files are no segments: the range is the segments only.
    expect(await repo.wal.range(ID)).toEqual({
      min: '000000010000000000000003',
      max: '000000010000000100000001',
    });
    expect(await repo.wal.range('15-2')).toEqual({});
  });

  it('removes a range of segments with their partial, backup and claim files, never a history file', async () => {
    const repo = await repoWith('remove', [
      `${WAL}-${SHA_A}.zst`,
      `000000010000000000000004-${SHA_A}.zst`,
      `000000010000000000000004.partial-${SHA_A}.zst`,
      `000000010000000000000005-${SHA_B}.zst`,
      `${WAL}.claim`,
    ]);
    const other = join(root, 'remove', repoLayout.walDirectory('main', ID, '000000010000000100000000'));
    await mkdir(other, { recursive: true });
    await writeFile(join(other, `000000010000000100000000-${SHA_A}.zst`), 'x');
    const historyDir = join(root, 'remove', repoLayout.walDirectory('main', ID, '00000002.history'));
    await writeFile(join(historyDir, `00000002.history-${SHA_A}`), 'x');

    expect(
      await repo.wal.remove(ID, { from: '000000010000000000000000', to: '000000010000000000000004' }),
    ).toBe(3);
    const dir = join(root, 'remove', repoLayout.walDirectory('main', ID, WAL));
    expect(await readdir(dir)).toEqual([`000000010000000000000005-${SHA_B}.zst`]);
    // A directory emptied by the removal goes; the history file stays.
    expect(
      await repo.wal.remove(ID, { from: '000000010000000000000005', to: '000000010000000100000000' }),
    ).toBe(2);
    expect(await repo.wal.segmentDirectories(ID)).toEqual([]);
    expect((await repo.wal.historyFiles(ID)).map((file) => file.walFileName)).toEqual(['00000002.history']);
  });

  it('removes the claims a removal killed before them left without data, in the range only; namesIn sees them', async () => {
    const repo = await repoWith('orphan-claims', [
      `000000010000000000000002.claim`,
      `000000010000000000000003.00000028.backup.claim`,
      `000000010000000000000004-${SHA_A}.zst`,
      `000000010000000000000004.claim`,
      `000000010000000000000009.claim`,
    ]);
    const dir = join(root, 'orphan-claims', repoLayout.walDirectory('main', ID, WAL));
    expect(await repo.wal.namesIn(ID, '0000000100000000')).toEqual([
      '000000010000000000000002',
      '000000010000000000000003.00000028.backup',
      '000000010000000000000004',
      '000000010000000000000009',
    ]);
    expect(
      await repo.wal.remove(ID, { from: '000000010000000000000001', to: '000000010000000000000004' }),
    ).toBe(1);
    expect(await readdir(dir)).toEqual(['000000010000000000000009.claim']);
  });

  it('refuses a range across timelines (names compare as strings) and removes nothing', async () => {
    const repo = await repoWith('cross', [`${WAL}-${SHA_A}.zst`]);
    const refused = await repo.wal
      .remove(ID, { from: '000000010000000000000001', to: '000000020000000000000001' })
      .catch((error: unknown) => error);
    expect(isPgStashError(refused, 'assert')).toBe(true);
    expect(await repo.wal.find(ID, WAL)).toBeDefined();
  });

  it('gives the archive ids of the current cluster, newest first, and fails (55) without archive.info', async () => {
    const repo = await repoWith('ids', []);
    expect(await repo.wal.clusterIdsIfAny()).toEqual([]);
    const missing = await repo.wal.clusterIds().catch((error: unknown) => error);
    expect(isPgStashError(missing, 'fileMissing')).toBe(true);
    const first = newDbHistory(DB);
    const upgraded = { id: 2, ...DB, version: '16' };
    const again = { id: 3, ...DB };
    await repo.writeArchiveInfo({ current: again, history: [first.current, upgraded, again] });
    expect(await repo.wal.clusterIds()).toEqual(['15-3', '15-1']);
    expect(await repo.wal.currentId()).toBe('15-3');
  });
});
