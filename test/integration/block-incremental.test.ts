// Block incremental (repo1-block=y) on real PostgreSQL 15: a contiguous 1% of a large table updated, then an incr
// stores a small part of it and restores exactly; restore --delta rewrites only the changed blocks; hint bits only,
// a truncated relation, an extended one and a dropped-then-recreated one (the same file name, made so with
// pg_resetwal -o) all restore exactly.
import { existsSync } from 'node:fs';
import { appendFile, open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeBackup } from '../harness/backups.js';
import type { PgCluster } from '../harness/cluster.js';
import { RestoreBench } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';

const BIG_ROWS = 800_000;
/** A contiguous 1% of the big table's rows. */
const HOT_FROM = 400_001;
const HOT_TO = HOT_FROM + BIG_ROWS / 100 - 1;
const SMALL = ['t_hint', 't_cut', 't_grow', 't_again'];

/** An order-independent digest of a table's rows. */
function tableChecksum(cluster: PgCluster, table: string): Promise<string> {
  return cluster.psql(`select md5(coalesce(string_agg(t::text, ',' order by t::text), '')) from ${table} t`);
}

async function checksums(cluster: PgCluster, tables: readonly string[]): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const table of tables) result[table] = await tableChecksum(cluster, table);
  return result;
}

interface InfoBackup {
  label: string;
  info: { size: number; delta: number; repository: { size: number; delta: number } };
}

/** The delta summary restore --delta prints. */
function deltaWritten(stdout: string): { written: number; writtenBytes: number } {
  const match = /delta: \d+ files kept \(\d+ bytes\), (\d+) written \((\d+) bytes\)/.exec(stdout);
  if (match === null) throw new Error(`no delta summary in:\n${stdout}`);
  return { written: Number(match[1]), writtenBytes: Number(match[2]) };
}

describe('block incremental (repo1-block=y)', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let full = '';
  let hot = '';
  let bigSize = 0;
  let hotSums: Record<string, string> = {};
  /** Files the full stored as blocks. */
  let fullFiles: string[] = [];

  /** Restores `label` into a new directory (pg_verifybackup checks it), starts it and returns the checksums. */
  async function restoreAndSum(label: string, tables: readonly string[]): Promise<Record<string, string>> {
    const { dataDir } = await restores.restore([
      `--set=${label}`,
      '--type=immediate',
      '--target-action=promote',
      '--process-max=2',
    ]);
    const restored = await restores.start(dataDir);
    await restored.waitForRecoveryEnd();
    const sums = await checksums(restored, tables);
    await restores.stopServers();
    return sums;
  }

  beforeAll(async () => {
    setup = await createStanzaSetup({ compressType: 'lz4', global: { 'repo1-block': 'y' } });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    // pgbench_accounts' shape, about 100 MB; autovacuum off so only the test's writes change pages.
    await setup.cluster.psql(
      `create table big (aid int primary key, bid int, abalance int, filler char(84)) with (autovacuum_enabled = off);
       insert into big select g, g / 100000, 0, md5(g::text) from generate_series(1, ${BIG_ROWS}) g;`,
      { timeoutSec: 600 },
    );
    for (const table of ['t_hint', 't_cut', 't_grow', 't_drop'])
      await setup.cluster.psql(
        `create table ${table} (id int, v text) with (autovacuum_enabled = off);
         insert into ${table} select g, md5(g::text) from generate_series(1, 40000) g;`,
      );
    // As pgbench -i does: vacuum sets the hint bits and the visibility map once, so the first read of the rows
    // after the full does not change every page.
    await setup.cluster.psql('vacuum freeze big', { timeoutSec: 600 });
    await setup.cluster.psql('checkpoint');
    bigSize = (
      await stat(join(setup.cluster.dataDir, await setup.cluster.psql(`select pg_relation_filepath('big')`)))
    ).size;
    expect(bigSize).toBeGreaterThan(95 * 1024 * 1024);
    full = await takeBackup(setup);
    const manifest = JSON.parse(
      await readFile(join(setup.repoPath, 'backup', setup.stanza, full, 'backup.manifest'), 'utf8'),
    ) as { content: { files: { name: string; stored: { block?: unknown } }[] } };
    fullFiles = manifest.content.files
      .filter((file) => file.stored.block !== undefined)
      .map((file) => file.name);
  }, 900_000);

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  it('an incr after updating a contiguous 1% of a large table stores under 5% of its size and restores exactly', async () => {
    await setup.cluster.psql(
      `update big set abalance = abalance + 1 where aid between ${HOT_FROM} and ${HOT_TO}`,
    );
    await setup.cluster.psql('checkpoint');
    hotSums = await checksums(setup.cluster, ['big']);
    hot = await takeBackup(setup, ['--type=incr']);
    const info = JSON.parse((await setup.pgstashOk(['info', '--output=json'])).stdout) as [
      { backup: InfoBackup[] },
    ];
    const incr = info[0].backup.find((backup) => backup.label === hot);
    expect(incr).toBeDefined();
    // Bytes added, as stored and as original blocks: a small part of the table, the whole still restorable.
    console.info(
      `block incremental: table ${bigSize} bytes; incr added ${incr!.info.delta} bytes, ${incr!.info.repository.delta} stored`,
    );
    expect(incr!.info.repository.delta).toBeLessThan(bigSize * 0.05);
    expect(incr!.info.delta).toBeLessThan(bigSize * 0.05);
    expect(incr!.info.size).toBeGreaterThan(bigSize);
    // Each part records its frame size, so restore decodes only the frames holding blocks it needs: the full's
    // part (the whole file) in 1 MiB frames, the incr's changed blocks in 64 KiB frames.
    const bigName = `pg_data/${await setup.cluster.psql(`select pg_relation_filepath('big')`)}`;
    const manifest = JSON.parse(
      await readFile(join(setup.repoPath, 'backup', setup.stanza, hot, 'backup.manifest'), 'utf8'),
    ) as {
      content: {
        files: { name: string; stored: { block?: { parts: { holder: string; frameSize?: number }[] } } }[];
      };
    };
    const parts = manifest.content.files.find((file) => file.name === bigName)?.stored.block?.parts ?? [];
    expect(parts.map((part) => [part.holder, part.frameSize])).toEqual([
      [full, 1024 * 1024],
      [hot, 64 * 1024],
    ]);
    expect(await restoreAndSum(hot, ['big'])).toEqual(hotSums);
  }, 900_000);

  it('restore --delta over the full rewrites only the changed blocks; the server starts with the exact data', async () => {
    expect(hot).not.toBe('');
    const dir = join(await restores.tempDir('delta'), 'data');
    await restores.restore([`--set=${full}`], { dataDir: dir });
    const { result } = await restores.restore(
      [`--set=${hot}`, '--delta', '--type=immediate', '--target-action=promote', '--process-max=2'],
      { dataDir: dir },
    );
    const { writtenBytes } = deltaWritten(result.stdout);
    console.info(
      `block incremental: restore --delta wrote ${writtenBytes} bytes over a ${bigSize}-byte table`,
    );
    // The updated and the new pages of the table and its index, and small files: not the 100 MB file.
    expect(writtenBytes).toBeGreaterThan(0);
    expect(writtenBytes).toBeLessThan(bigSize * 0.05);
    const restored = await restores.start(dir);
    await restored.waitForRecoveryEnd();
    expect(await checksums(restored, ['big'])).toEqual(hotSums);
    await restores.stopServers();
  }, 900_000);

  it('restore --delta --force patches a changed block-stored file by blocks too, not whole; the files are exact', async () => {
    expect(hot).not.toBe('');
    const dir = join(await restores.tempDir('delta-force'), 'data');
    await restores.restore([`--set=${full}`], { dataDir: dir });
    const name = await setup.cluster.psql(`select pg_relation_filepath('big')`);
    // Its mtime is the full's, which differs from the hot incr's: --force does not keep it.
    const { result } = await restores.restore([`--set=${hot}`, '--delta', '--force', '--process-max=2'], {
      dataDir: dir,
    });
    const { writtenBytes } = deltaWritten(result.stdout);
    // Written whole before: at least the 100 MB table.
    expect(writtenBytes).toBeGreaterThan(0);
    expect(writtenBytes).toBeLessThan(bigSize * 0.05);
    // restores.restore ran pg_verifybackup: every file's SHA-256 is the backup's. The table has the hot incr's mtime.
    const manifest = JSON.parse(
      await readFile(join(setup.repoPath, 'backup', setup.stanza, hot, 'backup.manifest'), 'utf8'),
    ) as { content: { files: { name: string; mtime: number }[] } };
    const entry = manifest.content.files.find((file) => file.name === `pg_data/${name}`);
    expect(Math.floor((await stat(join(dir, name))).mtimeMs / 1000)).toBe(entry?.mtime);
  }, 900_000);

  it('restore --delta splits a large block-stored file across the workers and repairs damage in every range', async () => {
    expect(hot).not.toBe('');
    const name = `pg_data/${await setup.cluster.psql(`select pg_relation_filepath('big')`)}`;
    const manifest = JSON.parse(
      await readFile(join(setup.repoPath, 'backup', setup.stanza, hot, 'backup.manifest'), 'utf8'),
    ) as { content: { files: { name: string; size: number; stored: { block?: { blockSize: number } } }[] } };
    const entry = manifest.content.files.find((file) => file.name === name);
    const blockSize = entry?.stored.block?.blockSize ?? 0;
    expect(blockSize).toBeGreaterThan(0);
    const size = entry!.size;
    const count = Math.ceil(size / blockSize);
    // Large enough to be split (delta-split.ts SPLIT_BYTES): its ranges are ceil(count / process-max) blocks.
    expect(size).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    const dir = join(await restores.tempDir('split'), 'data');
    await restores.restore([`--set=${hot}`], { dataDir: dir });
    const file = join(dir, name.slice('pg_data/'.length));
    const delta = async (processMax: number) =>
      deltaWritten(
        (await restores.restore([`--set=${hot}`, '--delta', `--process-max=${processMax}`], { dataDir: dir }))
          .result.stdout,
      );
    // What a delta restore over an intact copy writes (pg_control): the base of every expectation below.
    const base = await delta(2);
    const flip = async (offsets: readonly number[]) => {
      const handle = await open(file, 'r+');
      try {
        for (const offset of offsets) {
          const byte = Buffer.alloc(1);
          await handle.read(byte, 0, 1, offset);
          byte[0] = (byte[0] as number) ^ 0x5a;
          await handle.write(byte, 0, 1, offset);
        }
      } finally {
        await handle.close();
      }
    };
    const blockStarts = (blocks: readonly number[]) => blocks.map((block) => block * blockSize);
    const lastBytes = (blocks: readonly number[]) => blocks.map((block) => (block + 1) * blockSize - 1);
    for (const processMax of [2, 3]) {
      const each = Math.ceil(count / processMax);
      const boundaries = Array.from({ length: processMax - 1 }, (_, index) => (index + 1) * each);
      // In every range: its first block, a block in its middle, and the last block before each boundary changed
      // only in its last byte; the file's last byte.
      const firsts = [0, ...boundaries];
      const middles = firsts.map((first) => first + Math.floor(each / 2));
      const beforeBoundaries = boundaries.map((boundary) => boundary - 1);
      await flip([
        ...blockStarts(firsts),
        ...blockStarts(middles).map((offset) => offset + 100),
        ...lastBytes(beforeBoundaries),
        size - 1,
      ]);
      const damaged = new Set([...firsts, ...middles, ...beforeBoundaries, count - 1]).size;
      const repaired = await delta(processMax);
      expect(repaired.writtenBytes, `process-max ${processMax}`).toBe(
        base.writtenBytes + damaged * blockSize,
      );
      expect(repaired.written).toBe(base.written + 1);
    }
    // Cut at the boundary of two ranges: the second range is written whole, the first kept.
    const half = Math.ceil(count / 2);
    await truncate(file, half * blockSize);
    expect((await delta(2)).writtenBytes).toBe(base.writtenBytes + (count - half) * blockSize);
    // Cut inside the block before that boundary: that block too.
    await truncate(file, (half - 1) * blockSize + 100);
    expect((await delta(2)).writtenBytes).toBe(base.writtenBytes + (count - half + 1) * blockSize);
    // Extended by a block and a half of other bytes, and a byte flipped at the boundary: cut back, one block written.
    await appendFile(file, Buffer.alloc(blockSize + blockSize / 2, 7));
    await flip([half * blockSize]);
    expect((await delta(2)).writtenBytes).toBe(base.writtenBytes + blockSize);
    expect((await stat(file)).size).toBe(size);
    // Emptied: every block written, by both ranges.
    await truncate(file, 0);
    expect((await delta(2)).writtenBytes).toBe(base.writtenBytes + size);
    // A part damaged in the repository where a block is read from it: the delta restore fails naming it (26), though
    // it reads parts without their whole SHA-256 (each block it uses is checked against the map).
    const part = join(setup.repoPath, 'backup', setup.stanza, full, `${name}.lz4`);
    const stored = await readFile(part);
    const damaged = Buffer.from(stored);
    for (let offset = 64; offset < 4096; offset += 64) damaged[offset] = (damaged[offset] as number) ^ 0xff;
    await writeFile(part, damaged);
    try {
      await flip([0]);
      const failed = await setup.pgstash([
        'restore',
        `--pg1-path=${dir}`,
        `--set=${hot}`,
        '--delta',
        '--process-max=2',
      ]);
      expect(failed.code, failed.stdout + failed.stderr).toBe(26);
      expect(failed.stderr).toContain(`${name}.lz4`);
      // The plain restore reads parts without their whole SHA-256 too (restore-file.ts): the same damage fails it
      // (26) naming the part, and the directory it filled has no pg_control, so it never looks usable.
      const plainDir = join(await restores.tempDir('damaged'), 'data');
      const plain = await setup.pgstash([
        'restore',
        `--pg1-path=${plainDir}`,
        `--set=${hot}`,
        '--process-max=2',
      ]);
      expect(plain.code, plain.stdout + plain.stderr).toBe(26);
      expect(plain.stderr).toContain(`${name}.lz4`);
      expect(existsSync(join(plainDir, 'global', 'pg_control'))).toBe(false);
    } finally {
      await writeFile(part, stored);
    }
    await delta(2);
  }, 900_000);

  it('hint bits only, a truncated, an extended and a dropped-then-recreated relation (same file name) restore exactly', async () => {
    const cluster = setup.cluster;
    const dropped = await cluster.psql(`select pg_relation_filepath('t_drop')`);
    // The full holds t_drop's file (a block map of its rows) under the name t_again will have.
    expect(fullFiles).toContain(`pg_data/${dropped}`);
    const droppedOid = await cluster.psql(`select relfilenode from pg_class where relname = 't_drop'`);
    // Reading sets hint bits on every page (no other change): those blocks differ from the full's.
    await cluster.psql('select count(*) from t_hint');
    // Vacuum cuts the relation's tail: the file shrinks under the same name.
    const cutFile = join(cluster.dataDir, await cluster.psql(`select pg_relation_filepath('t_cut')`));
    const cutBefore = (await stat(cutFile)).size;
    await cluster.psql('delete from t_cut where id > 30000');
    await cluster.psql('vacuum t_cut');
    expect((await stat(cutFile)).size).toBeLessThan(cutBefore);
    await cluster.psql(`insert into t_grow select g, md5(g::text) from generate_series(40001, 70000) g`);
    // Drop t_drop, let a checkpoint remove its file, and give its relfilenode to a new table of other rows.
    // (Each its own transaction: the file goes at the checkpoint after the drop committed.)
    await cluster.psql('drop table t_drop');
    // A new OID must not be any pg_class row's, dead ones included: vacuum removes t_drop's.
    await cluster.psql('vacuum pg_class');
    await cluster.psql('checkpoint');
    await cluster.stop();
    // The dropped relation leaves an empty tombstone file until a later checkpoint; while it is there no new
    // relation gets its number. The server is stopped: remove it by hand, then set the next OID to it.
    const tombstone = join(cluster.dataDir, dropped);
    expect((await stat(tombstone).catch(() => undefined))?.size ?? 0).toBe(0);
    await rm(tombstone, { force: true });
    await cluster.runTool('pg_resetwal', ['-o', droppedOid, cluster.dataDir]);
    await cluster.start();
    await cluster.psql(
      `create table t_again (id int, v text) with (autovacuum_enabled = off);
       insert into t_again select g, md5((g * 7)::text) from generate_series(1, 40000) g;`,
    );
    expect(await cluster.psql(`select pg_relation_filepath('t_again')`)).toBe(dropped);
    await cluster.psql('checkpoint');
    const sums = await checksums(cluster, SMALL);
    const label = await takeBackup(setup, ['--type=incr']);
    // Each changed file was stored as blocks by the incr; the recreated one all anew (no block of t_drop's reused).
    const manifest = JSON.parse(
      await readFile(join(setup.repoPath, 'backup', setup.stanza, label, 'backup.manifest'), 'utf8'),
    ) as {
      content: {
        files: { name: string; stored: { holder: string; block?: { parts: { holder: string }[] } } }[];
      };
    };
    for (const table of ['t_hint', 't_cut', 't_grow', 't_again']) {
      const name = `pg_data/${await cluster.psql(`select pg_relation_filepath('${table}')`)}`;
      const entry = manifest.content.files.find((file) => file.name === name);
      expect(entry?.stored.holder, table).toBe(label);
      expect(entry?.stored.block, table).toBeDefined();
    }
    const again = manifest.content.files.find((file) => file.name === `pg_data/${dropped}`);
    expect(again?.stored.block?.parts.map((part) => part.holder)).toEqual([label]);
    expect(await restoreAndSum(label, SMALL)).toEqual(sums);
  }, 900_000);
});
