// The storage conformance suite: written only against the Driver interface, run by every driver's test file.
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { isPgStashError } from '../../src/common/errors.js';
import type { Driver, StorageInfo, WriteOptions } from '../../src/storage/driver.js';
import { destroyWrite } from '../harness/aborted-write.js';
import { anyRejectionOf } from '../harness/errors.js';

export interface DriverFixture {
  readonly driver: Driver;
  cleanup(): Promise<void>;
}

const MiB = 1024 * 1024;

/** Writes `chunks` through openWrite the way callers do: `await pipeline(source, stream)`. */
async function write(
  driver: Driver,
  path: string,
  chunks: Buffer | readonly Buffer[],
  options?: WriteOptions,
) {
  const list = Buffer.isBuffer(chunks) ? [chunks] : chunks;
  await pipeline(Readable.from(list), await driver.openWrite(path, options));
}

async function read(driver: Driver, path: string, options?: { offset?: number; limit?: number }) {
  const stream = await driver.openRead(path, options);
  if (stream === undefined) return undefined;
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

async function list(driver: Driver, path: string, options?: { prefix?: string }): Promise<StorageInfo[]> {
  const entries: StorageInfo[] = [];
  for await (const entry of driver.list(path, options)) entries.push(entry);
  return entries.sort((a, b) => a.name.localeCompare(b.name));
}

async function names(driver: Driver, path: string, options?: { prefix?: string }): Promise<string[]> {
  return (await list(driver, path, options)).map((entry) => entry.name);
}

/** Writes one chunk and waits until the stream has accepted it. */
function writeChunk(stream: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    stream.write(chunk, (error) => (error ? reject(error) : resolve())),
  );
}

/** Ends the stream and waits for its 'finish', which the contract makes the commit point. */
function end(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

/** Chunks of awkward sizes (1 byte, odd sizes, exactly and just over 1 MiB) that together are `data`. */
function chunked(data: Buffer): Buffer[] {
  const sizes = [1, 7, 65_536, MiB, MiB + 1, 3, 200_000, MiB - 1, 2 * MiB + 5];
  const chunks: Buffer[] = [];
  for (let offset = 0, index = 0; offset < data.length; index++) {
    const size = sizes[index % sizes.length] ?? 1;
    chunks.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Registers the conformance tests for one driver; `setup` gives each test a fresh, empty storage root. */
export function defineDriverSuite(name: string, setup: () => Promise<DriverFixture>): void {
  describe(`storage driver conformance: ${name}`, () => {
    let fixture: DriverFixture;
    let driver: Driver;

    beforeEach(async () => {
      fixture = await setup();
      driver = fixture.driver;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('declares atomic writes and names its location', () => {
      expect(driver.capabilities.atomicWrite).toBe(true);
      expect(driver.location.length).toBeGreaterThan(0);
    });

    describe('write and read', () => {
      it('round-trips an empty file', async () => {
        await write(driver, 'empty', []);
        expect(await read(driver, 'empty')).toEqual(Buffer.alloc(0));
        expect(await driver.info('empty')).toMatchObject({ name: 'empty', type: 'file', size: 0 });
      });

      it('round-trips a single byte', async () => {
        await write(driver, 'one', Buffer.from([0xa5]));
        expect(await read(driver, 'one')).toEqual(Buffer.from([0xa5]));
      });

      it('round-trips several MiB streamed in chunks of awkward sizes', async () => {
        const data = randomBytes(9 * MiB + 12_345);
        await write(driver, 'big/file', chunked(data));
        const back = await read(driver, 'big/file');
        expect(back?.length).toBe(data.length);
        expect(sha256(back ?? Buffer.alloc(0))).toBe(sha256(data));
        expect((await driver.info('big/file'))?.size).toBe(data.length);
      });

      it('round-trips many small chunks', async () => {
        const data = randomBytes(300_000);
        const chunks: Buffer[] = [];
        for (let offset = 0; offset < data.length; offset += 100)
          chunks.push(data.subarray(offset, offset + 100));
        await write(driver, 'small-chunks', chunks);
        expect((await read(driver, 'small-chunks'))?.equals(data)).toBe(true);
      });

      it('completes writes made with sync: false, durable once flush() resolves', async () => {
        const data = randomBytes(300_000);
        await write(driver, 'deferred/a/file', chunked(data), { sync: false });
        await write(driver, 'deferred/b/file', data.subarray(0, 10), { sync: false });
        await driver.flush();
        expect((await read(driver, 'deferred/a/file'))?.equals(data)).toBe(true);
        expect((await read(driver, 'deferred/b/file'))?.equals(data.subarray(0, 10))).toBe(true);
        await driver.flush();
      });

      it('names where a file is on this host when paths are real, and nothing otherwise', async () => {
        await write(driver, 'local/file', Buffer.from('here'));
        const local = driver.localPath?.('local/file');
        if (driver.capabilities.path) expect(await readFile(local as string, 'utf8')).toBe('here');
        else expect(local).toBeUndefined();
      });

      it('creates missing parents of a nested path', async () => {
        await write(driver, 'a/b/c/d/e.txt', Buffer.from('nested'));
        expect((await read(driver, 'a/b/c/d/e.txt'))?.toString()).toBe('nested');
        expect(await names(driver, 'a/b/c')).toEqual(['d']);
      });

      it('resolves a missing file to undefined', async () => {
        expect(await driver.openRead('missing')).toBeUndefined();
        expect(await driver.openRead('missing/deeper/file')).toBeUndefined();
      });

      it('makes data visible only once the write has finished', async () => {
        const stream = await driver.openWrite('pending/file');
        await writeChunk(stream, randomBytes(3 * MiB));
        await writeChunk(stream, Buffer.from('tail'));
        expect(await driver.info('pending/file')).toBeUndefined();
        expect(await driver.openRead('pending/file')).toBeUndefined();
        // The in-progress write must not show in a listing either (posix: its temporary file).
        expect(await names(driver, 'pending')).toEqual([]);
        await end(stream);
        expect((await driver.info('pending/file'))?.size).toBe(3 * MiB + 4);
        expect(await names(driver, 'pending')).toEqual(['file']);
      });

      it('overwrites a file, readers seeing the old content whole until the new one is committed', async () => {
        const before = randomBytes(2 * MiB + 3);
        const after = randomBytes(MiB + 17);
        await write(driver, 'over/file', before);

        const stream = await driver.openWrite('over/file');
        for (const chunk of chunked(after)) {
          await writeChunk(stream, chunk);
          expect((await read(driver, 'over/file'))?.equals(before)).toBe(true);
        }
        await end(stream);
        expect((await read(driver, 'over/file'))?.equals(after)).toBe(true);
        expect(await names(driver, 'over')).toEqual(['file']);
      });

      it('keeps one whole version when two writers race on the same path', async () => {
        const first = Buffer.alloc(3 * MiB, 1);
        const second = Buffer.alloc(2 * MiB, 2);
        await Promise.all([
          write(driver, 'race/file', chunked(first)),
          write(driver, 'race/file', chunked(second)),
        ]);
        const back = await read(driver, 'race/file');
        expect(back?.equals(first) === true || back?.equals(second) === true).toBe(true);
        expect(await names(driver, 'race')).toEqual(['file']);
      });
    });

    describe('create if absent (ifAbsent)', () => {
      it('creates a missing file, parents included', async () => {
        await write(driver, 'claim/a/file', Buffer.from('first'), { ifAbsent: true });
        expect((await read(driver, 'claim/a/file'))?.toString()).toBe('first');
      });

      it('fails with fileExists when the file exists, leaving it untouched and nothing else behind', async () => {
        await write(driver, 'claim/file', Buffer.from('first'));
        const error = await anyRejectionOf(
          write(driver, 'claim/file', Buffer.from('second'), { ifAbsent: true }),
        );
        expect(isPgStashError(error, 'fileExists')).toBe(true);
        expect((error as Error).message).toContain('claim/file');
        expect((await read(driver, 'claim/file'))?.toString()).toBe('first');
        expect(await names(driver, 'claim')).toEqual(['file']);
      });

      it('lets exactly one of many concurrent writers create the file, whole', async () => {
        const contents = Array.from({ length: 8 }, (_, index) => Buffer.alloc(MiB + index, index + 1));
        const results = await Promise.allSettled(
          contents.map((content) => write(driver, 'race/claim', chunked(content), { ifAbsent: true })),
        );
        const winners = results.flatMap((result, index) => (result.status === 'fulfilled' ? [index] : []));
        expect(winners).toHaveLength(1);
        for (const result of results) {
          if (result.status === 'rejected') expect(isPgStashError(result.reason, 'fileExists')).toBe(true);
        }
        expect((await read(driver, 'race/claim'))?.equals(contents[winners[0] as number] as Buffer)).toBe(
          true,
        );
        expect(await names(driver, 'race')).toEqual(['claim']);
      });

      it('leaves nothing when destroyed before finishing', async () => {
        const stream = await driver.openWrite('claim/aborted', { ifAbsent: true });
        await writeChunk(stream, Buffer.alloc(1000, 7));
        await destroyWrite(stream);
        expect(await driver.info('claim/aborted')).toBeUndefined();
        await write(driver, 'claim/aborted', Buffer.from('later'), { ifAbsent: true });
        expect((await read(driver, 'claim/aborted'))?.toString()).toBe('later');
      });
    });

    describe('aborted writes', () => {
      it('leaves nothing when destroyed with an error mid-stream', async () => {
        const stream = await driver.openWrite('abort/file');
        await writeChunk(stream, randomBytes(2 * MiB));
        await destroyWrite(stream, new Error('source failed'));
        expect(await driver.info('abort/file')).toBeUndefined();
        expect(await driver.openRead('abort/file')).toBeUndefined();
        expect(await names(driver, 'abort')).toEqual([]);
      });

      it('leaves nothing when destroyed without an error before finishing', async () => {
        const stream = await driver.openWrite('abort/quiet');
        await writeChunk(stream, Buffer.from('partial'));
        await destroyWrite(stream);
        expect(await driver.info('abort/quiet')).toBeUndefined();
        expect(await names(driver, 'abort')).toEqual([]);
      });

      it('keeps the earlier version intact', async () => {
        const before = randomBytes(MiB + 5);
        await write(driver, 'abort/kept', before);
        const stream = await driver.openWrite('abort/kept');
        await writeChunk(stream, randomBytes(3 * MiB));
        await destroyWrite(stream, new Error('source failed'));
        expect((await read(driver, 'abort/kept'))?.equals(before)).toBe(true);
        expect(await names(driver, 'abort')).toEqual(['kept']);
      });

      it('rejects the pipeline and writes nothing when the source fails', async () => {
        async function* failing() {
          yield randomBytes(MiB);
          yield randomBytes(MiB);
          throw new Error('read error in source');
        }
        const error = await anyRejectionOf(
          pipeline(Readable.from(failing()), await driver.openWrite('abort/pipe')),
        );
        expect((error as Error).message).toBe('read error in source');
        expect(await driver.info('abort/pipe')).toBeUndefined();
        expect(await names(driver, 'abort')).toEqual([]);
      });
    });

    describe('info', () => {
      it('describes a file', async () => {
        const start = Date.now();
        await write(driver, 'info/file', Buffer.from('12345'));
        const info = await driver.info('info/file');
        expect(info).toMatchObject({ name: 'info/file', type: 'file', size: 5 });
        // Filesystem and server clocks have coarse resolution: allow a few seconds either way.
        expect(info?.mtimeMs).toBeGreaterThan(start - 5000);
        expect(info?.mtimeMs).toBeLessThan(Date.now() + 5000);
      });

      it('describes a directory', async () => {
        await write(driver, 'info/dir/file', Buffer.from('x'));
        const info = await driver.info('info/dir');
        if (driver.capabilities.path) expect(info?.type).toBe('path');
        else expect(info === undefined || info.type === 'path').toBe(true);
      });

      it('resolves a missing path to undefined', async () => {
        expect(await driver.info('info/missing')).toBeUndefined();
        await write(driver, 'info/file', Buffer.from('x'));
        expect(await driver.info('info/file/below')).toBeUndefined();
      });
    });

    describe('list', () => {
      beforeEach(async () => {
        await write(driver, 'list/a', Buffer.from('aaa'));
        await write(driver, 'list/bb', Buffer.from('b'));
        await write(driver, 'list/b/c', Buffer.from('c'));
        await write(driver, 'list/b/d/e', Buffer.from('e'));
      });

      it('yields direct children only, with type and size', async () => {
        const entries = await list(driver, 'list');
        expect(entries.map((entry) => [entry.name, entry.type])).toEqual([
          ['a', 'file'],
          ['b', 'path'],
          ['bb', 'file'],
        ]);
        expect(entries[0]?.size).toBe(3);
        expect(entries[0]?.mtimeMs).toBeGreaterThan(Date.now() - 60_000);
        expect(await names(driver, 'list/b')).toEqual(['c', 'd']);
      });

      it('lists the root', async () => {
        expect(await names(driver, '')).toEqual(['list']);
      });

      it('filters by prefix', async () => {
        expect(await names(driver, 'list', { prefix: 'b' })).toEqual(['b', 'bb']);
        expect(await names(driver, 'list', { prefix: 'bb' })).toEqual(['bb']);
        expect(await names(driver, 'list', { prefix: 'z' })).toEqual([]);
      });

      it('yields nothing for a missing path or a file', async () => {
        expect(await names(driver, 'list/missing')).toEqual([]);
        expect(await names(driver, 'nothing/here/at/all')).toEqual([]);
        expect(await names(driver, 'list/a')).toEqual([]);
      });
    });

    describe('read (whole file)', () => {
      it('reads what openRead streams, empty files included', async () => {
        const data = randomBytes(300 * 1024 + 7);
        await write(driver, 'whole/data', data);
        await write(driver, 'whole/empty', Buffer.alloc(0));
        expect((await driver.read('whole/data'))?.equals(data)).toBe(true);
        expect((await driver.read('whole/empty'))?.length).toBe(0);
      });

      it('reads the same byte ranges as openRead', async () => {
        const data = randomBytes(10_000);
        await write(driver, 'whole/range', data);
        for (const range of [
          { offset: 100 },
          { limit: 10 },
          { offset: 9_990, limit: 50 },
          { offset: 20_000 },
          { limit: 0 },
        ]) {
          const whole = await driver.read('whole/range', range);
          expect(whole?.equals((await read(driver, 'whole/range', range)) as Buffer)).toBe(true);
        }
        expect(
          (await driver.read('whole/range', { offset: 9_990, limit: 50 }))?.equals(data.subarray(9_990)),
        ).toBe(true);
      });

      it('resolves a missing file to undefined', async () => {
        expect(await driver.read('whole/missing')).toBeUndefined();
        expect(await driver.read('whole/missing/deeper')).toBeUndefined();
      });

      it('never sees a write in progress', async () => {
        const stream = await driver.openWrite('whole/pending');
        await writeChunk(stream, Buffer.from('partial'));
        expect(await driver.read('whole/pending')).toBeUndefined();
        await end(stream);
        expect((await driver.read('whole/pending'))?.toString()).toBe('partial');
      });
    });

    describe('openRead ranges', () => {
      const data = Buffer.from(Array.from({ length: 100 }, (_, index) => index));

      beforeEach(async () => {
        await write(driver, 'range', data);
      });

      it('reads from an offset to the end', async () => {
        expect(await read(driver, 'range', { offset: 10 })).toEqual(data.subarray(10));
      });

      it('reads a limited number of bytes', async () => {
        expect(await read(driver, 'range', { limit: 5 })).toEqual(data.subarray(0, 5));
        expect(await read(driver, 'range', { offset: 20, limit: 30 })).toEqual(data.subarray(20, 50));
      });

      it('stops at the end of the file', async () => {
        expect(await read(driver, 'range', { offset: 95, limit: 10 })).toEqual(data.subarray(95));
        expect(await read(driver, 'range', { offset: 100 })).toEqual(Buffer.alloc(0));
        expect(await read(driver, 'range', { offset: 500, limit: 5 })).toEqual(Buffer.alloc(0));
      });

      it('reads nothing with a zero limit', async () => {
        expect(await read(driver, 'range', { offset: 3, limit: 0 })).toEqual(Buffer.alloc(0));
      });

      it('reads a range of a large file across chunk boundaries', async () => {
        const big = randomBytes(5 * MiB);
        await write(driver, 'range-big', chunked(big));
        const offset = MiB - 3;
        const limit = 2 * MiB + 11;
        const back = await read(driver, 'range-big', { offset, limit });
        expect(back?.equals(big.subarray(offset, offset + limit))).toBe(true);
      });
    });

    describe('remove', () => {
      it('removes a file, and succeeds when it is missing', async () => {
        await write(driver, 'rm/file', Buffer.from('x'));
        await driver.remove('rm/file');
        expect(await driver.info('rm/file')).toBeUndefined();
        await driver.remove('rm/file');
        await driver.remove('rm/never/existed');
      });

      it('removes a tree, and succeeds when it is missing', async () => {
        await write(driver, 'tree/a', Buffer.from('a'));
        await write(driver, 'tree/b/c', Buffer.from('c'));
        await write(driver, 'tree/b/d/e', Buffer.from('e'));
        await write(driver, 'kept', Buffer.from('k'));
        await driver.removeTree('tree');
        expect(await driver.info('tree')).toBeUndefined();
        expect(await names(driver, 'tree')).toEqual([]);
        expect(await names(driver, '')).toEqual(['kept']);
        await driver.removeTree('tree');
        await driver.removeTree('never/existed');
      });

      it('removes a single file with removeTree', async () => {
        await write(driver, 'single', Buffer.from('x'));
        await driver.removeTree('single');
        expect(await driver.info('single')).toBeUndefined();
      });
    });

    describe('move', () => {
      /** The driver's move where it has one (atomicMove); a driver without one must not claim atomic moves. */
      function moveOf(driver: Driver): ((from: string, to: string) => Promise<void>) | undefined {
        if (driver.move === undefined) expect(driver.capabilities.atomicMove).toBe(false);
        return driver.move?.bind(driver);
      }

      it('moves a file to a new, nested path', async () => {
        const move = moveOf(driver);
        if (move === undefined) return;
        await write(driver, 'mv/from', Buffer.from('moved'));
        await move('mv/from', 'mv/to/deeper/file');
        expect(await driver.info('mv/from')).toBeUndefined();
        expect((await read(driver, 'mv/to/deeper/file'))?.toString()).toBe('moved');
      });

      it('replaces an existing file', async () => {
        const move = moveOf(driver);
        if (move === undefined) return;
        await write(driver, 'mv/from', Buffer.from('new'));
        await write(driver, 'mv/to', Buffer.from('old content'));
        await move('mv/from', 'mv/to');
        expect((await read(driver, 'mv/to'))?.toString()).toBe('new');
        expect(await names(driver, 'mv')).toEqual(['to']);
      });

      it('fails with fileMissing when the source is missing', async () => {
        const move = moveOf(driver);
        if (move === undefined) return;
        const error = await anyRejectionOf(move('mv/missing', 'mv/to'));
        expect(isPgStashError(error, 'fileMissing')).toBe(true);
        expect((error as Error).message).toContain('mv/missing');
        expect(await driver.info('mv/to')).toBeUndefined();
      });
    });

    describe('paths', () => {
      it('makes a path, idempotently', async () => {
        // An object store has no directories (and no makePath): the write below must then work without one.
        await driver.makePath?.('made/a/b');
        await driver.makePath?.('made/a/b');
        if (driver.capabilities.path) expect((await driver.info('made/a/b'))?.type).toBe('path');
        await write(driver, 'made/a/b/file', Buffer.from('x'));
        expect(await names(driver, 'made/a/b')).toEqual(['file']);
      });

      it('honours createParent: false where paths exist', async () => {
        const attempt = driver.openWrite('no-parent/file', { createParent: false });
        if (driver.capabilities.path) {
          expect(isPgStashError(await anyRejectionOf(attempt), 'pathMissing')).toBe(true);
          expect(await driver.info('no-parent')).toBeUndefined();
        } else {
          await pipeline(Readable.from([Buffer.from('x')]), await attempt);
          expect((await read(driver, 'no-parent/file'))?.toString()).toBe('x');
        }
      });

      it.each(['../escape', '/absolute', 'a//b', 'a/./b', 'a/..'])('rejects the path %j', async (path) => {
        const error = await anyRejectionOf(driver.openWrite(path));
        expect(isPgStashError(error, 'paramInvalid')).toBe(true);
        expect(isPgStashError(await anyRejectionOf(driver.info(path)), 'paramInvalid')).toBe(true);
      });
    });
  });
}
