// Tests for listingsOnce over a real posix driver: each directory listed once (prefixed lists served from it), a
// file its listing did not show answered missing without a read, and a write forgetting what was listed.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Driver, StorageInfo } from '../../../src/storage/driver.js';
import { listingsOnce } from '../../../src/storage/listings-once.js';
import { PosixDriver } from '../../../src/storage/posix.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';

/** The real driver, its list and read calls recorded as they reach it. */
function recorded(driver: Driver): { driver: Driver; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    driver: {
      capabilities: driver.capabilities,
      location: driver.location,
      info: (path) => driver.info(path),
      list(path, options) {
        calls.push(`list ${path}`);
        return driver.list(path, options);
      },
      openRead: (path, options) => driver.openRead(path, options),
      read(path, options) {
        calls.push(`read ${path}`);
        return driver.read(path, options);
      },
      openWrite: (path, options) => driver.openWrite(path, options),
      remove: (path) => driver.remove(path),
      removeTree: (path) => driver.removeTree(path),
      flush: () => driver.flush(),
    },
  };
}

async function names(entries: AsyncIterable<StorageInfo>): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of entries) found.push(entry.name);
  return found.sort();
}

describe('listingsOnce', () => {
  let root: string;
  let posix: PosixDriver;

  beforeEach(async () => {
    root = await createTempDir({ label: 'listings-once' });
    posix = new PosixDriver(root);
    for (const name of ['dir/stanza.key', 'dir/backup.info', 'dir/sub/file'])
      await pipeline(Readable.from([Buffer.from(name)]), await posix.openWrite(name));
  });

  afterEach(async () => {
    await removeTempDir(root);
  });

  it('lists a directory once, serving prefixed lists from that listing', async () => {
    const { driver, calls } = recorded(posix);
    const view = listingsOnce(driver);
    expect(await names(view.list('dir'))).toEqual(['backup.info', 'stanza.key', 'sub']);
    expect(await names(view.list('dir', { prefix: 'stanza.key' }))).toEqual(['stanza.key']);
    expect(await names(view.list('dir'))).toEqual(['backup.info', 'stanza.key', 'sub']);
    expect(calls).toEqual(['list dir']);
  });

  it('answers a file its listing did not show as missing without reading, and reads the others', async () => {
    const { driver, calls } = recorded(posix);
    const view = listingsOnce(driver);
    await names(view.list('dir'));
    expect(await view.read('dir/drill.history')).toBeUndefined();
    expect(await view.info('dir/drill.history')).toBeUndefined();
    expect((await view.read('dir/backup.info'))?.toString()).toBe('dir/backup.info');
    expect((await view.info('dir/sub'))?.type).toBe('path');
    expect(calls).toEqual(['list dir', 'read dir/backup.info']);
  });

  it('forgets its listings after a write through it', async () => {
    const { driver, calls } = recorded(posix);
    const view = listingsOnce(driver);
    await names(view.list('dir'));
    await pipeline(Readable.from([Buffer.from('new')]), await view.openWrite('dir/drill.history'));
    expect((await view.read('dir/drill.history'))?.toString()).toBe('new');
    expect(await names(view.list('dir'))).toContain('drill.history');
    expect(calls).toEqual(['list dir', 'read dir/drill.history', 'list dir']);
  });
});
