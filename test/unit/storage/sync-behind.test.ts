// Tests for SyncBehind: every queued file is synced by drain(), and a failure names the file.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgStashError } from '../../../src/common/errors.js';
import { SyncBehind } from '../../../src/storage/sync-behind.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';

let dir: string;

beforeAll(async () => {
  dir = await createTempDir({ label: 'sync-behind', owner: 'root' });
});

afterAll(async () => {
  await removeTempDir(dir);
});

describe('SyncBehind', () => {
  it('drains at once when nothing was queued, and after every queued file otherwise', async () => {
    const syncing = new SyncBehind(2);
    await syncing.drain();
    for (let i = 0; i < 10; i++) {
      const path = join(dir, `file-${i}`);
      await writeFile(path, `data ${i}`);
      syncing.add(path);
    }
    // Two callers waiting at once both see the end.
    await Promise.all([syncing.drain(), syncing.drain()]);
    // Usable again after a drain.
    syncing.add(join(dir, 'file-0'));
    await syncing.drain();
  });

  it('fails drain with a fileWrite error naming the file that could not be synced, once', async () => {
    const syncing = new SyncBehind(3);
    await writeFile(join(dir, 'present'), 'x');
    syncing.add(join(dir, 'present'));
    syncing.add(join(dir, 'missing'));
    const error = await syncing.drain().catch((caught: unknown) => caught);
    expect(isPgStashError(error, 'fileWrite')).toBe(true);
    expect((error as Error).message).toContain(`unable to sync '${join(dir, 'missing')}'`);
    await syncing.drain();
  });
});
