// Tests for the asynchronous archiving spool's status files and queue accounting.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getQueue, pushQueue } from '../../../../src/command/archive/async/queue.js';
import {
  formatStatus,
  getSpoolDir,
  parseStatus,
  pushSpoolDir,
  readStatus,
  readStatusOrClear,
  statusError,
  writeStatus,
} from '../../../../src/command/archive/async/spool.js';
import { isPgStashError } from '../../../../src/common/errors.js';

const MIB = 1024 * 1024;

describe('parseStatus', () => {
  it('reads an empty .ok, an .ok with a warning, and an .error with its code and message', () => {
    expect(parseStatus('ok', '', 'x.ok')).toEqual({ kind: 'ok', message: undefined, written: 0 });
    expect(parseStatus('ok', '0\ndropped WAL file\n', 'x.ok')).toEqual({
      kind: 'ok',
      message: 'dropped WAL file',
      written: 0,
    });
    expect(parseStatus('error', '45\nalready exists\nwith a different checksum\n', 'x.error')).toEqual({
      kind: 'error',
      code: 45,
      message: 'already exists\nwith a different checksum',
      written: 0,
    });
  });

  it('refuses a damaged status file with fileInvalid, never taking it for success', () => {
    for (const [kind, content] of [
      ['ok', '45\nnot ok'],
      ['ok', 'garbage'],
      ['error', ''],
      ['error', '0\nno code'],
      ['error', '45'],
      ['error', 'x\nmessage'],
    ] as const) {
      let caught: unknown;
      try {
        parseStatus(kind, content, 'x');
      } catch (error) {
        caught = error;
      }
      expect(isPgStashError(caught, 'fileInvalid'), `${kind} '${content}'`).toBe(true);
    }
  });

  it('formats what it parses', () => {
    expect(parseStatus('error', formatStatus({ code: 82, message: 'timeout' }), 'x')).toMatchObject({
      code: 82,
      message: 'timeout',
    });
    expect(formatStatus({ code: 0 })).toBe('');
  });

  it('turns a recorded error back into the error of its code', () => {
    const error = statusError({ code: 45, message: 'duplicate' });
    expect(error.code).toBe(45);
    expect(error.kind).toBe('archiveDuplicate');
    expect(statusError({ code: 250, message: 'unknown code' }).kind).toBe('runtime');
  });
});

describe('spool layout', () => {
  it('keys both by stanza and system id', () => {
    expect(pushSpoolDir('/var/spool/pgstash', 'main', 42n)).toBe('/var/spool/pgstash/archive/main/out/42');
    expect(getSpoolDir('/s', 'main', 7301234567890123456n)).toBe('/s/archive/main/in/7301234567890123456');
    expect(getSpoolDir('/s', 'main', 1n)).not.toBe(getSpoolDir('/s', 'other', 1n));
  });
});

describe('writeStatus and readStatus', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), `pgstash-test-${process.pid}-spool-`));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes one status per segment, replacing the other kind, and leaves no temp file', async () => {
    const name = '000000010000000000000003';
    expect(await readStatus(dir, name)).toBeUndefined();
    await writeStatus(dir, name, { kind: 'error', code: 45, message: 'duplicate' });
    expect(await readStatus(dir, name)).toMatchObject({ kind: 'error', code: 45, message: 'duplicate' });
    await writeStatus(dir, name, { kind: 'ok', code: 0 });
    expect(await readStatus(dir, name)).toMatchObject({ kind: 'ok', message: undefined });
    expect(await readdir(dir)).toEqual([`${name}.ok`]);
    expect(await readFile(join(dir, `${name}.ok`), 'utf8')).toBe('');
    expect((await readStatus(dir, name))?.written).toBeGreaterThan(Date.now() - 60_000);
  });

  it('reports a damaged status file rather than reading it as ok', async () => {
    await writeFile(join(dir, '000000010000000000000004.error'), 'junk');
    await expect(readStatus(dir, '000000010000000000000004')).rejects.toThrow(/invalid status file/);
  });

  it('lets a foreground remove a damaged status file and take it as none, so it is written again', async () => {
    await writeFile(join(dir, '000000010000000000000005.error'), '');
    expect(await readStatusOrClear(dir, '000000010000000000000005')).toBeUndefined();
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('pushQueue', () => {
  const ready = (count: number) =>
    Array.from({ length: count }, (_, index) => ({ name: `00000001000000000000000${index}`, size: MIB }));

  it('pushes everything when the queue is within archive-push-queue-max, or when it is unset', () => {
    expect(pushQueue(ready(4), 4 * MIB)).toMatchObject({ drop: [], waitingBytes: 4 * MIB });
    expect(pushQueue(ready(4), 4 * MIB).push).toHaveLength(4);
    expect(pushQueue(ready(400), undefined).drop).toHaveLength(0);
  });

  it('drops the whole queue once it exceeds archive-push-queue-max, as pgBackRest', () => {
    const { push, drop, waitingBytes } = pushQueue(ready(5), 4 * MIB);
    expect(push).toHaveLength(0);
    expect(drop.map((wal) => wal.name)).toEqual(ready(5).map((wal) => wal.name));
    expect(waitingBytes).toBe(5 * MIB);
    expect(pushQueue([], 0).drop).toHaveLength(0);
  });
});

describe('getQueue', () => {
  it('lists as many segments as archive-get-queue-max holds, following on the timeline', () => {
    expect(getQueue('0000000200000000000000FE', 16 * MIB, 48 * MIB)).toEqual([
      '0000000200000000000000FE',
      '0000000200000000000000FF',
      '000000020000000100000000',
    ]);
    expect(getQueue('000000010000000000000FFF', MIB, 2 * MIB)).toEqual([
      '000000010000000000000FFF',
      '000000010000000100000000',
    ]);
  });

  it('always holds the segment asked for, even with a queue smaller than a segment', () => {
    expect(getQueue('000000010000000000000001', 16 * MIB, 0)).toEqual(['000000010000000000000001']);
    expect(getQueue('000000010000000000000001', 16 * MIB, 128 * MIB)).toHaveLength(8);
  });
});
