// Tests for PendingFile: nothing at the path until commit, all data written, abort and failures leave nothing.
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPgStashError } from '../../../src/common/errors.js';
import { PendingFile } from '../../../src/storage/local-file.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgstash-pending-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('PendingFile', () => {
  it('shows nothing at the path until commit, then every byte written, with the mode asked for', async () => {
    const path = join(dir, '000000010000000000000001');
    const file = await PendingFile.create(path, { mode: 0o600 });
    const pieces = [Buffer.alloc(3 << 20, 7), Buffer.from('tail'), Buffer.alloc(0)];
    for (const piece of pieces) await file.write(piece);
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
    expect(await readdir(dir)).toEqual([
      expect.stringMatching(/^\.000000010000000000000001\..*\.pgstash\.tmp$/),
    ]);
    await file.commit({ sync: true });
    // Buffer.equals: toEqual compares a 3 MiB buffer element by element, for seconds.
    expect((await readFile(path)).equals(Buffer.concat(pieces))).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['000000010000000000000001']);
  });

  it('leaves nothing behind on abort, and abort after commit keeps the file', async () => {
    const aborted = await PendingFile.create(join(dir, 'a'));
    await aborted.write(Buffer.from('half'));
    await aborted.abort();
    expect(await readdir(dir)).toEqual([]);
    const committed = await PendingFile.create(join(dir, 'b'));
    await committed.write(Buffer.from('whole'));
    await committed.commit();
    await committed.abort();
    expect(await readFile(join(dir, 'b'), 'utf8')).toBe('whole');
  });

  it('replaces an existing file only at commit', async () => {
    const path = join(dir, 'seg');
    await writeFile(path, 'old');
    const file = await PendingFile.create(path);
    await file.write(Buffer.from('new'));
    expect(await readFile(path, 'utf8')).toBe('old');
    await file.commit();
    expect(await readFile(path, 'utf8')).toBe('new');
  });

  it('fails with fileOpen naming the path when its directory is missing', async () => {
    const path = join(dir, 'missing', 'seg');
    const error = await PendingFile.create(path).catch((caught: unknown) => caught);
    expect(isPgStashError(error, 'fileOpen')).toBe(true);
    expect((error as Error).message).toContain(path);
  });

  it('fails with fileWrite when writing after the file is closed', async () => {
    const file = await PendingFile.create(join(dir, 'seg'));
    await file.commit();
    const error = await file.write(Buffer.from('late')).catch((caught: unknown) => caught);
    expect(isPgStashError(error, 'fileWrite')).toBe(true);
  });
});
