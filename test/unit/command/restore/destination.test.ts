// Tests for restore destinations: where each target goes, and when a non-empty directory may be emptied.
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPgStashError, type PgStashError } from '../../../../src/common/errors.js';
import {
  prepareDestination,
  resolveTargets,
  type ResolvedTarget,
} from '../../../../src/command/restore/destination.js';
import { RestoreLocks } from '../../../../src/command/restore/restore-lock.js';
import {
  clearUnfinished,
  markUnfinished,
  unfinishedRestore,
} from '../../../../src/command/restore/unfinished.js';
import type { Manifest } from '../../../../src/repo/manifest.js';
import { createTempDir, removeTempDir } from '../../../harness/tmp.js';

let root: string;

beforeEach(async () => {
  root = await createTempDir({ label: 'destination' });
});

afterEach(async () => {
  await removeTempDir(root);
});

/** A manifest with just the targets: the data directory and one tablespace, at their backed-up locations. */
function manifestWith(original: string, tablespace: string): Manifest {
  return {
    targets: [
      { name: 'pg_data', type: 'path', path: original },
      { name: 'pg_tblspc/16400', type: 'link', path: tablespace, tablespaceOid: 16400, tablespaceName: 'ts' },
    ],
  } as unknown as Manifest;
}

/** prepareDestination with the tablespace locks it takes released afterwards, as the restore does at its end. */
async function prepare(targets: readonly ResolvedTarget[], force: boolean, delta = false): Promise<void> {
  const locks = new RestoreLocks();
  try {
    await prepareDestination(targets, { force, locks, delta });
  } finally {
    await locks.release();
  }
}

async function fill(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'file'), 'theirs');
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('resolveTargets', () => {
  it('puts pg_data at pg1-path and a tablespace at its map entry, its map-all directory or where it was', () => {
    const manifest = manifestWith('/old/data', '/old/ts');
    const plain = resolveTargets(manifest, '/new/data', { tablespaceMap: {} });
    expect(plain.map(({ path, given }) => ({ path, given }))).toEqual([
      { path: '/new/data', given: true },
      { path: '/old/ts', given: false },
    ]);
    expect(resolveTargets(manifest, '/new/data', { tablespaceMap: { ts: '/new/ts' } })[1]).toMatchObject({
      path: '/new/ts',
      given: true,
    });
    expect(resolveTargets(manifest, '/new/data', { tablespaceMap: { '16400': '/old/ts' } })[1]).toMatchObject(
      {
        path: '/old/ts',
        given: true,
      },
    );
    const all = resolveTargets(manifest, '/new/data', { tablespaceMap: {}, tablespaceMapAll: '/spaces' });
    expect(all[1]).toMatchObject({ path: '/spaces/ts', given: true });
  });
});

describe('prepareDestination', () => {
  it('refuses a non-empty directory without --force, and empties it with --force', async () => {
    const data = join(root, 'data');
    await fill(data);
    const targets = resolveTargets(manifestWith(data, join(root, 'ts')), data, { tablespaceMap: {} });
    const refused = await errorOf(prepare(targets, false));
    expect(isPgStashError(refused, 'pathNotEmpty')).toBe(true);
    expect((refused as Error).message).toBe(`unable to restore into '${data}': the directory is not empty`);
    await prepare(targets, true);
    expect(await readdir(data)).toEqual([]);
  });

  it('names a restore that did not finish: refused without --delta, finished with --delta, emptied with --force', async () => {
    const data = join(root, 'data');
    await mkdir(join(data, 'base', '5'), { recursive: true });
    await writeFile(join(data, 'base', '5', '16384'), 'restored before the kill');
    const targets = resolveTargets(manifestWith(data, join(root, 'ts')), data, { tablespaceMap: {} });
    // No PG_VERSION yet (the restore was killed before it): without the marker --delta takes it for another directory.
    const notData = await errorOf(prepare(targets, false, true));
    expect((notData as Error).message).toContain('so it is not a PostgreSQL data directory');
    await markUnfinished(data, '20261208-010752F');
    const refused = await errorOf(prepare(targets, false));
    expect(isPgStashError(refused, 'pathNotEmpty')).toBe(true);
    expect((refused as Error).message).toBe(
      `unable to restore into '${data}': it holds a restore of backup set 20261208-010752F that did not finish`,
    );
    expect((refused as PgStashError).hint).toMatch(/^run the restore again with --delta to finish it/);
    await prepare(targets, false, true);
    expect((await readdir(data)).sort()).toEqual(['.pgstash-restore.unfinished', 'base']);
    expect(await unfinishedRestore(data)).toEqual({ label: '20261208-010752F' });
    await clearUnfinished(data);
    expect(await unfinishedRestore(data)).toBeUndefined();
    // Killed between creating the marker and writing it: empty, still a marker, no set named.
    await writeFile(join(data, '.pgstash-restore.unfinished'), '');
    expect(await unfinishedRestore(data)).toEqual({ label: undefined });
    expect(((await errorOf(prepare(targets, false))) as Error).message).toBe(
      `unable to restore into '${data}': it holds a restore that did not finish`,
    );
    await markUnfinished(data, '20261208-010752F');
    await prepare(targets, true);
    expect(await readdir(data)).toEqual([]);
  });

  it('empties a tablespace at its backed-up location with --force when the restore is in place', async () => {
    const data = join(root, 'data');
    const ts = join(root, 'ts');
    await symlink(data, join(root, 'data-link'));
    // The backed-up data directory however it is spelled: a trailing slash, or a link to it.
    for (const pgPath of [`${data}/`, join(root, 'data-link')]) {
      await fill(ts);
      const targets = resolveTargets(manifestWith(data, ts), pgPath, { tablespaceMap: {} });
      await prepare(targets, true);
      expect(await readdir(ts), pgPath).toEqual([]);
    }
  });

  it('never empties the backed-up cluster tablespace for a restore elsewhere, unless it is named', async () => {
    const ts = join(root, 'ts');
    await fill(ts);
    const manifest = manifestWith(join(root, 'data'), ts);
    const elsewhere = join(root, 'new');
    const targets = resolveTargets(manifest, elsewhere, { tablespaceMap: {} });
    for (const force of [false, true]) {
      const refused = await errorOf(prepare(targets, force));
      expect(isPgStashError(refused, 'pathNotEmpty')).toBe(true);
      expect((refused as Error).message).toContain(`unable to restore tablespace 'ts' into '${ts}'`);
    }
    expect(await readdir(ts)).toEqual(['file']);
    const named = resolveTargets(manifest, elsewhere, { tablespaceMap: { ts } });
    await prepare(named, true);
    expect(await readdir(ts)).toEqual([]);
  });

  it('locks each tablespace directory before it looks at it: one another restore holds fails with 50', async () => {
    const ts = join(root, 'ts');
    const other = new RestoreLocks();
    await other.take(ts);
    const targets = resolveTargets(manifestWith(join(root, 'original'), ts), join(root, 'data'), {
      tablespaceMap: { ts },
    });
    const refused = await errorOf(prepare(targets, true));
    expect(isPgStashError(refused, 'lockAcquire')).toBe(true);
    expect((refused as Error).message).toBe(
      `unable to acquire lock on file '${join(ts, '.pgstash-restore.lock')}': held by process ${process.pid}`,
    );
    await other.release();
    expect(await readdir(ts)).toEqual([]);
  });
});
