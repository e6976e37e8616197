// Tests for PageVerifier (a stage of the chunk loop) against a real relation file from `initdb -k`, and for PageIsVerified's edge cases.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PageVerifier, pageChecksum } from '../../../src/io/page-checksum.js';
import { PgCluster } from '../../harness/cluster.js';
import { chunkSizes } from './helpers.js';

const PAGE = 8192;

let cluster: PgCluster;
/** A real, multi-page relation file (pg_proc of template1), written with data checksums on. */
let relation: Buffer;

beforeAll(async () => {
  cluster = await PgCluster.create({ dataChecksums: true });
  // template1 is database 1; pg_proc's relfilenode is 1255 and it fills dozens of pages.
  const path = join(cluster.dataDir, 'base', '1', '1255');
  relation = await readFile(path);
  expect((await stat(path)).size % PAGE).toBe(0);
});

afterAll(async () => {
  await cluster?.destroy();
});

async function check(
  data: Buffer,
  options: { segmentNo?: number; sizes?: readonly number[]; lsnLimit?: bigint } = {},
): Promise<PageVerifier> {
  const pageOptions = {
    segmentNo: options.segmentNo ?? 0,
    ...(options.lsnLimit === undefined ? {} : { lsnLimit: options.lsnLimit }),
  };
  // Fed in pieces of `sizes` (cycled; pages straddle them), leaving the data unchanged.
  const copy = Buffer.from(data);
  const verifier = new PageVerifier(pageOptions);
  const sizes = options.sizes ?? [65536];
  for (let offset = 0, index = 0; offset < data.length; index++) {
    const size = Math.max(1, sizes[index % sizes.length] ?? 65536);
    verifier.update(data.subarray(offset, offset + size));
    offset += size;
  }
  expect(data.equals(copy)).toBe(true);
  // The verifier given the whole file at once (a small file's one chunk) must say exactly the same.
  const whole = new PageVerifier(pageOptions);
  whole.update(data);
  expect(whole.invalidPages).toEqual(verifier.invalidPages);
  expect(whole.pagesChecked).toBe(verifier.pagesChecked);
  return verifier;
}

/** Sets a page's checksum to what PostgreSQL would write for block `blockNo`. */
function stamp(page: Buffer, blockNo: number): void {
  const aligned = Buffer.from(page); // a fresh, 4-byte aligned copy
  page.writeUInt16LE(pageChecksum(new Uint32Array(aligned.buffer, aligned.byteOffset, PAGE / 4), blockNo), 8);
}

describe('PageVerifier', () => {
  it('accepts every page of a real relation file', async () => {
    expect(relation.length / PAGE).toBeGreaterThan(10);
    const verifier = await check(relation);
    expect(verifier.pagesChecked).toBe(relation.length / PAGE);
    expect(verifier.invalidPages).toEqual([]);
  });

  it('reports exactly the page with one flipped byte, wherever the byte is', async () => {
    const pages = relation.length / PAGE;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: pages - 1 }),
        fc.integer({ min: 0, max: PAGE - 1 }),
        fc.integer({ min: 1, max: 255 }),
        chunkSizes,
        async (page, offset, mask, sizes) => {
          const damaged = Buffer.from(relation);
          const at = page * PAGE + offset;
          damaged[at] = (damaged[at] as number) ^ mask;
          const verifier = await check(damaged, { sizes });
          expect(verifier.invalidPages).toEqual([page]);
          expect(verifier.pagesChecked).toBe(pages);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('mixes in the block number: the same pages fail in another segment', async () => {
    const verifier = await check(relation, { segmentNo: 1 });
    expect(verifier.invalidPages.length).toBe(relation.length / PAGE);
    const moved = Buffer.from(relation);
    for (let page = 0; page < moved.length / PAGE; page++)
      stamp(moved.subarray(page * PAGE, (page + 1) * PAGE), 131072 + page);
    expect((await check(moved, { segmentNo: 1 })).invalidPages).toEqual([]);
  });

  it('accepts all-zero pages, rejects a new page that is not all zeros', async () => {
    const zeros = Buffer.alloc(3 * PAGE);
    expect((await check(zeros)).invalidPages).toEqual([]);
    const dirty = Buffer.alloc(3 * PAGE);
    dirty[PAGE + 100] = 1; // pd_upper stays 0: PageIsNew, but not all zeros
    expect((await check(dirty)).invalidPages).toEqual([1]);
  });

  it('rejects a page whose header is not sane even with a matching checksum', async () => {
    const insane: ((page: Buffer) => void)[] = [
      (page) => page.writeUInt16LE(page.readUInt16LE(14) + 8, 12), // pd_lower > pd_upper
      (page) => page.writeUInt16LE(0x0100, 10), // an unknown pd_flags bit
      (page) => page.writeUInt16LE(PAGE + 8, 16), // pd_special beyond the page
      (page) => page.writeUInt16LE(page.readUInt16LE(16) - 4, 16), // pd_special not MAXALIGNed
    ];
    for (const damage of insane) {
      const page = Buffer.from(relation.subarray(0, PAGE));
      stamp(page, 0);
      expect((await check(page)).invalidPages).toEqual([]);
      damage(page);
      stamp(page, 0);
      expect((await check(page)).invalidPages).toEqual([0]);
    }
  });

  it('skips a partial trailing page (the relation is being extended)', async () => {
    const partial = Buffer.concat([relation.subarray(0, 2 * PAGE), Buffer.alloc(100, 7)]);
    const verifier = await check(partial, { sizes: [333] });
    expect(verifier.pagesChecked).toBe(2);
    expect(verifier.invalidPages).toEqual([]);
  });

  it('gives the same answer for unaligned buffers', async () => {
    const damaged = Buffer.from(relation);
    damaged[5 * PAGE + 4000] = (damaged[5 * PAGE + 4000] as number) ^ 1;
    const shifted = Buffer.alloc(damaged.length + 1);
    damaged.copy(shifted, 1);
    const verifier = await check(shifted.subarray(1), { sizes: [PAGE * 3] });
    expect(verifier.invalidPages).toEqual([5]);
  });

  it('does not report damaged pages at or beyond the LSN limit (torn by a concurrent write)', async () => {
    const damaged = Buffer.from(relation);
    damaged[2 * PAGE + 500] = (damaged[2 * PAGE + 500] as number) ^ 1;
    const lsn = (BigInt(damaged.readUInt32LE(2 * PAGE)) << 32n) | BigInt(damaged.readUInt32LE(2 * PAGE + 4));
    expect((await check(damaged, { lsnLimit: lsn })).invalidPages).toEqual([]);
    expect((await check(damaged, { lsnLimit: lsn + 1n })).invalidPages).toEqual([2]);
  });

  it('agrees with pg_checksums on the whole stopped cluster', async () => {
    const result = await cluster.runTool('pg_checksums', ['--check', '-D', cluster.dataDir]);
    expect(result.code).toBe(0);
    // And the verifier accepts every relation file pg_checksums checked in template1.
    const dir = join(cluster.dataDir, 'base', '1');
    let files = 0;
    for (const name of await readdir(dir)) {
      if (!/^\d+$/.test(name)) continue;
      const data = await readFile(join(dir, name));
      if (data.length === 0) continue;
      const verifier = await check(data);
      expect(verifier.invalidPages, name).toEqual([]);
      files++;
    }
    expect(files).toBeGreaterThan(50);
  });

  it('rejects invalid options', () => {
    expect(() => new PageVerifier({ segmentNo: -1 })).toThrow(RangeError);
    expect(() => new PageVerifier({ segmentNo: 0, blockSize: 1000 })).toThrow(RangeError);
  });
});
