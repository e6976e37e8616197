// Tests for the temp file registry: writers record their temp files until renamed or removed, and a signal
// handler's removeTempFilesNow deletes only what is still in progress.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PendingFile } from '../../../src/storage/local-file.js';
import { PosixDriver } from '../../../src/storage/posix.js';
import { removeTempFilesNow, tempFilesInProgress } from '../../../src/storage/temp-files.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgstash-temp-files-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('temp files in progress', () => {
  it('PendingFile: recorded until commit or abort; removeTempFilesNow deletes one in progress', async () => {
    const committed = await PendingFile.create(join(dir, 'committed'));
    const aborted = await PendingFile.create(join(dir, 'aborted'));
    const killed = await PendingFile.create(join(dir, 'killed'));
    expect(tempFilesInProgress()).toBe(3);
    await committed.write(Buffer.from('whole'));
    await committed.commit();
    await aborted.abort();
    expect(tempFilesInProgress()).toBe(1);
    await killed.write(Buffer.from('half'));
    expect(existsSync(killed.tempPath)).toBe(true);
    removeTempFilesNow();
    expect(tempFilesInProgress()).toBe(0);
    expect(await readdir(dir)).toEqual(['committed']);
    expect(await readFile(join(dir, 'committed'), 'utf8')).toBe('whole');
    await killed.abort();
  });

  it('posix openWrite: recorded until the stream commits or is destroyed', async () => {
    const driver = new PosixDriver(dir);
    const finished = await driver.openWrite('a/finished');
    const destroyed = await driver.openWrite('a/destroyed');
    const killed = await driver.openWrite('a/killed');
    expect(tempFilesInProgress()).toBe(3);
    finished.end(Buffer.from('whole'));
    await once(finished, 'finish');
    destroyed.destroy();
    await once(destroyed, 'close');
    expect(tempFilesInProgress()).toBe(1);
    killed.write(Buffer.from('half'));
    removeTempFilesNow();
    expect(await readdir(join(dir, 'a'))).toEqual(['finished']);
    killed.destroy();
    await once(killed, 'close');
  });
});
