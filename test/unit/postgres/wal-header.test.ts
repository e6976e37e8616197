// Tests for the WAL segment header reader on real segments written by PostgreSQL 15, and on damaged headers.
import { errorOf } from '../../harness/errors.js';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isPgStashError } from '../../../src/common/errors.js';
import { readControlFile } from '../../../src/postgres/control.js';
import { readWalSegmentHeader, WAL_LONG_HEADER_SIZE } from '../../../src/postgres/wal-header.js';
import {
  isWalSegmentName,
  segmentNumberOfName,
  segmentNumberToLsn,
  walSegmentName,
} from '../../../src/postgres/wal-name.js';
import { PgCluster } from '../../harness/cluster.js';

/** The first page of every segment in pg_wal, by name. */
async function firstPages(dataDir: string): Promise<Map<string, Buffer>> {
  const pages = new Map<string, Buffer>();
  const dir = join(dataDir, 'pg_wal');
  for (const name of (await readdir(dir)).filter(isWalSegmentName).sort()) {
    const handle = await open(join(dir, name), 'r');
    try {
      const page = Buffer.alloc(8192);
      const { bytesRead } = await handle.read(page, 0, page.length, 0);
      pages.set(name, page.subarray(0, bytesRead));
    } finally {
      await handle.close();
    }
  }
  return pages;
}

describe('WAL segments written by PostgreSQL 15', () => {
  let standard: PgCluster;
  let small: PgCluster;

  beforeAll(async () => {
    standard = await PgCluster.create();
    small = await PgCluster.create({ walSegmentSizeMb: 1 });
  });

  afterAll(async () => {
    await standard.destroy();
    await small.destroy();
  });

  it('reads the header of the segment initdb leaves (16 MiB)', async () => {
    const control = await readControlFile(standard.dataDir);
    const pages = await firstPages(standard.dataDir);
    expect([...pages.keys()]).toEqual(['000000010000000000000001']);
    const header = readWalSegmentHeader(pages.get('000000010000000000000001') ?? Buffer.alloc(0), 'x');
    expect(header).toEqual({
      magic: 0xd110,
      pgVersion: '15',
      timeline: 1,
      pageAddress: 0x1000000n,
      systemId: control.systemId,
      segmentSize: 16 * 1024 * 1024,
      blockSize: 8192,
    });
  });

  it('reads every segment of a running 1 MiB cluster, each at its own address', async () => {
    let pages: Map<string, Buffer>;
    await small.start();
    try {
      // About 5 MiB of WAL, then a switch: several 1 MiB segments, read while the server runs (a shutdown
      // checkpoint would recycle them under future names, keeping their old headers).
      await small.psql(
        "create table t as select i, repeat('x', 500) as pad from generate_series(1, 10000) i; select pg_switch_wal()",
      );
      pages = await firstPages(small.dataDir);
    } finally {
      await small.stop();
    }
    const control = await readControlFile(small.dataDir);
    expect(control.walSegmentSize).toBe(1024 * 1024);
    const segSize = 1024 * 1024;
    const inUse: string[] = [];
    for (const [name, page] of pages) {
      const header = readWalSegmentHeader(page, name);
      expect(header.segmentSize).toBe(segSize);
      expect(header.blockSize).toBe(8192);
      expect(header.timeline).toBe(1);
      expect(header.systemId).toBe(control.systemId);
      expect(header.pgVersion).toBe('15');
      const ownStart = segmentNumberToLsn(segmentNumberOfName(name, segSize), segSize);
      if (header.pageAddress === ownStart) {
        expect(walSegmentName(header.timeline, header.pageAddress, segSize)).toBe(name);
        inUse.push(name);
      } else {
        // A segment recycled at a checkpoint: renamed ahead, its header still that of the older segment.
        expect(header.pageAddress).toBeLessThan(ownStart);
      }
    }
    // The CTAS wrote about 5 MiB: at least five consecutive segments carry their own address.
    expect(inUse.length).toBeGreaterThanOrEqual(5);
    const first = segmentNumberOfName(inUse[0] ?? '', segSize);
    expect(inUse.map((name) => segmentNumberOfName(name, segSize) - first)).toEqual(
      inUse.map((_, index) => BigInt(index)),
    );
  });

  it('refuses damaged headers with fileInvalid (28) naming the file', async () => {
    const good = (await firstPages(standard.dataDir)).get('000000010000000000000001') ?? Buffer.alloc(0);
    const file = '/pg/pg_wal/000000010000000000000001';
    const cases: [string, (page: Buffer) => Buffer, string][] = [
      ['short', (page) => page.subarray(0, WAL_LONG_HEADER_SIZE - 1), 'only 39 bytes'],
      ['empty', () => Buffer.alloc(0), 'only 0 bytes'],
      ['zeros', () => Buffer.alloc(8192), 'magic 0x0 is not a WAL page magic'],
      [
        'short header',
        (page) => (page.writeUInt16LE(page.readUInt16LE(2) & ~2, 2), page),
        'not a long page header (is it the start of a segment?)',
      ],
      ['flags', (page) => (page.writeUInt16LE(0x0102, 2), page), 'unknown page flags 0x102'],
      ['magic', (page) => (page.writeUInt16LE(0x1234, 0), page), 'magic 0x1234 is not a WAL page magic'],
      ['segment size', (page) => (page.writeUInt32LE(3 * 1024 * 1024, 32), page), 'segment size 3145728'],
      ['block size', (page) => (page.writeUInt32LE(1000, 36), page), 'block size 1000'],
      ['address', (page) => (page.writeBigUInt64LE(0x1000028n, 8), page), 'page address 0/1000028'],
      ['timeline', (page) => (page.writeUInt32LE(0, 4), page), 'timeline 0'],
    ];
    for (const [, damage, reason] of cases) {
      const error = errorOf(() => readWalSegmentHeader(damage(Buffer.from(good)), file));
      expect(isPgStashError(error, 'fileInvalid')).toBe(true);
      expect((error as { code: number }).code).toBe(28);
      expect((error as Error).message).toContain(`WAL file '${file}' has an invalid header: ${reason}`);
    }
  });

  it('leaves the version undefined for a well-formed header of an unknown version', async () => {
    const page = Buffer.from((await firstPages(standard.dataDir)).get('000000010000000000000001') ?? []);
    page.writeUInt16LE(0xd118, 0);
    expect(readWalSegmentHeader(page).pgVersion).toBeUndefined();
    page.writeUInt16LE(0xd101, 0);
    expect(readWalSegmentHeader(page).pgVersion).toBe('12');
  });
});
