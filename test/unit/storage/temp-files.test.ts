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

  // A signal handled between the open that creates the temp file and the code after it must still find the file:
  // archive-get killed by SIGTERM under CI's load left '.RECOVERYXLOG.<hex>.pgstash.tmp' in pg_wal.
  it('a temp file is recorded before its open, so a signal during the open finds it', async () => {
    const pending = PendingFile.create(join(dir, 'opening'));
    expect(tempFilesInProgress()).toBe(1);
    const posix = new PosixDriver(dir).openWrite('b/opening');
    expect(tempFilesInProgress()).toBe(2);
    const file = await pending;
    expect(existsSync(file.tempPath)).toBe(true);
    const stream = await posix;
    expect(tempFilesInProgress()).toBe(2);
    removeTempFilesNow();
    expect(await readdir(dir)).toEqual(['b']);
    expect(await readdir(join(dir, 'b'))).toEqual([]);
    await file.abort();
    stream.destroy();
    await once(stream, 'close');
  });

  it('a temp file whose open fails is not recorded', async () => {
    await expect(PendingFile.create(join(dir, 'missing', 'x'))).rejects.toThrow(/unable to create/);
    expect(tempFilesInProgress()).toBe(0);
  });
});
