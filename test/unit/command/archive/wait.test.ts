// Tests for waitForArchive. On a file-system repository a segment that reaches the archive while the backup waits is
// seen within a few tens of milliseconds (the lookups start at 20 ms and grow by a quarter), and a segment that
// never comes fails with archiveTimeout (82) naming it; on an object store the first lookup waits 150 ms.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { waitForArchive } from '../../../../src/command/archive/wait.js';
import { isPgStashError } from '../../../../src/common/errors.js';
import { repoLayout } from '../../../../src/repo/layout.js';
import { Repository } from '../../../../src/repo/repository.js';
import { repoOptions } from '../../../harness/repository.js';
import { createTempDir, removeTempDir } from '../../../harness/tmp.js';

const WAL = '000000010000000000000007';
const ID = '15-1';

let root: string;

beforeAll(async () => {
  root = await createTempDir({ label: 'archive-wait' });
});

afterAll(async () => {
  await removeTempDir(root);
});

async function emptyArchive(label: string): Promise<{ repo: Repository; dir: string }> {
  const path = join(root, label);
  const repo = await Repository.openInWorker(repoOptions(path), 'main', undefined);
  const dir = join(path, repoLayout.walDirectory('main', ID, WAL));
  await mkdir(dir, { recursive: true });
  return { repo, dir };
}

describe('waitForArchive on a file system', () => {
  it('looks up a missing segment often at first (at least 8 times in its first second), then fails naming it', async () => {
    const { repo } = await emptyArchive('never');
    const find = vi.spyOn(repo.wal, 'find');
    const error = await waitForArchive([repo], [WAL], 1, new Map([[repo, ID]])).catch(
      (caught: unknown) => caught,
    );
    expect(isPgStashError(error, 'archiveTimeout')).toBe(true);
    expect((error as Error).message).toContain(WAL);
    // 20 ms growing by a quarter: about 11 lookups in a second (an object store's 100 ms doubling makes 4).
    expect(find.mock.calls.length).toBeGreaterThanOrEqual(8);
    expect(find.mock.calls.length).toBeLessThanOrEqual(16);
  });

  it('finds a segment archived while it waits, with the lookup that follows', async () => {
    const { repo, dir } = await emptyArchive('later');
    const find = vi.spyOn(repo.wal, 'find');
    const archived = new Promise<void>((resolve) =>
      setTimeout(() => {
        void writeFile(join(dir, `${WAL}-${'c'.repeat(64)}.lz4`), 'x').then(() => resolve());
      }, 150),
    );
    const [found] = await waitForArchive([repo], [WAL], 5, new Map([[repo, ID]]));
    await archived;
    expect(found?.sha256).toBe('c'.repeat(64));
    // Lookups at 0, 20, 45, 76, 115, 164, 225 ms...: the one after 150 ms is the 6th or 7th (a busy machine delays
    // the write or the timers: not the 4th of the old 100 ms doubling, which would have waited until 300 ms).
    expect(find.mock.calls.length).toBeGreaterThanOrEqual(5);
  });
});

describe('waitForArchive on an object store (its lookups are listing requests)', () => {
  it('first looks 150 ms into the wait, then 150 ms apart growing by half: 5 lookups in a second', async () => {
    const { repo } = await emptyArchive('store-never');
    // The schedule is chosen by the repository's kind; the lookups themselves stay the file system's.
    vi.spyOn(repo, 'objectStore', 'get').mockReturnValue(true);
    const find = repo.wal.find.bind(repo.wal);
    const started = Date.now();
    const at: number[] = [];
    vi.spyOn(repo.wal, 'find').mockImplementation((...args: Parameters<typeof find>) => {
      at.push(Date.now() - started);
      return find(...args);
    });
    const error = await waitForArchive([repo], [WAL], 1, new Map([[repo, ID]])).catch(
      (caught: unknown) => caught,
    );
    expect(isPgStashError(error, 'archiveTimeout')).toBe(true);
    // Never at once (archive-push of the stop segment takes 250-400 ms on a store); 150, 300, 525, 862 ms, then
    // the one at the deadline.
    expect(at[0]).toBeGreaterThanOrEqual(145);
    expect(at.length).toBeGreaterThanOrEqual(4);
    expect(at.length).toBeLessThanOrEqual(6);
  });
});
