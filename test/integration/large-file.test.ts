// A relation file of 64 MiB or more on real PostgreSQL 15 (lz4): it runs alone on its worker and is written with
// direct I/O, past the page cache (fincore shows none of it there before the server starts). It must come back
// whole, on this machine's disk and on XFS, btrfs and overlay, and damage that still decompresses must fail the
// restore naming the file.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RUNS_ALONE_BYTES } from '../../src/command/copy-order.js';
import { DIRECT_WRITE_BYTES } from '../../src/command/restore/restore-file.js';
import { LZ4_MAGIC, readLz4Descriptor } from '../../src/io/frame/lz4.js';
import { TestFilesystem, type FilesystemType } from '../harness/filesystems.js';
import { cachedBytes } from '../harness/page-cache.js';
import { RestoreBench } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';

const LABEL = /backup (\d{8}-\d{6}F) complete/;

const CHECK = "select count(*), md5(string_agg(v, ',' order by id)) from big";

/**
 * Flips the first literal byte of the first lz4 block in `stored`: the frame still decodes, to different bytes,
 * so only the SHA-256 of the restored file can tell.
 */
function flipFirstLiteral(stored: Buffer): Buffer {
  expect(stored.readUInt32LE(0)).toBe(LZ4_MAGIC);
  const { headerLength } = readLz4Descriptor(stored[4] as number, stored[5] as number, 4);
  const word = stored.readUInt32LE(headerLength);
  let at = headerLength + 4;
  if ((word & 0x80000000) === 0) {
    // A compressed block starts with a sequence whose literals come first: its token, any length bytes, then them.
    const token = stored[at] as number;
    expect(token >> 4).toBeGreaterThan(0);
    at++;
    if (token >> 4 === 15) while (stored[at++] === 255);
  }
  const damaged = Buffer.from(stored);
  damaged[at] = (damaged[at] ?? 0) ^ 0x01;
  return damaged;
}

describe('a relation file of 64 MiB or more (lz4)', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let label: string;
  let expected: string;
  let relation: string;

  beforeAll(async () => {
    setup = await createStanzaSetup({ compressType: 'lz4', cluster: { settings: { max_wal_size: '1GB' } } });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql(
      `create table big (id int primary key, v text);
       insert into big select g, md5(g::text) || repeat(chr(65 + g % 26), 60) from generate_series(1, 700000) g;
       checkpoint;`,
    );
    relation = await setup.cluster.psql("select pg_relation_filepath('big')");
    const size = Number(await setup.cluster.psql("select pg_relation_size('big')"));
    expect(size).toBeGreaterThanOrEqual(Math.max(RUNS_ALONE_BYTES, DIRECT_WRITE_BYTES));
    expected = await setup.cluster.psql(CHECK);
    const backup = await setup.pgstashOk(['backup', '--type=full', '--process-max=2', '--start-fast']);
    label = LABEL.exec(backup.stdout)?.[1] ?? '';
    expect(label, backup.stdout).not.toBe('');
  }, 300_000);

  afterEach(async () => {
    await restores?.cleanup();
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  /** Written through the page cache, all of the table would be there: nothing has read it yet, nor evicted it. */
  async function pastThePageCache(restored: string): Promise<void> {
    expect(await cachedBytes(join(restored, relation))).toBeLessThan(DIRECT_WRITE_BYTES);
    expect(await cachedBytes(join(restored, 'global', 'pg_control'))).toBeGreaterThan(0);
  }

  for (const type of ['xfs', 'btrfs', 'overlay'] satisfies FilesystemType[]) {
    it(`${type}: restores whole past the page cache, the server starts and the table is the source one`, async () => {
      const fs = await TestFilesystem.mount(join(await restores.tempDir(type), 'data'), {
        type,
        bytes: 512 << 20,
        owner: 'postgres',
        mode: 0o700,
      });
      try {
        await restores.restore(['--process-max=2', '--type=immediate'], {
          dataDir: fs.path,
          beforeVerify: pastThePageCache,
        });
        const restored = await restores.start(fs.path);
        expect(await restored.psql(CHECK)).toBe(expected);
      } finally {
        await restores.stopServers();
        await fs.unmount();
      }
    });
  }

  for (const processMax of [1, 2]) {
    it(`process-max=${processMax}: restores whole past the page cache, the server starts and the table is the source one`, async () => {
      const { dataDir } = await restores.restore([`--process-max=${processMax}`, '--type=immediate'], {
        beforeVerify: pastThePageCache,
      });
      const restored = await restores.start(dataDir);
      expect(await restored.psql(CHECK)).toBe(expected);
    });

    it(`process-max=${processMax}: damage that still decompresses fails with 26 naming the file, before pg_control`, async () => {
      const stored = join(setup.repoPath, 'backup', setup.stanza, label, 'pg_data', `${relation}.lz4`);
      const original = await readFile(stored);
      await writeFile(stored, flipFirstLiteral(original));
      try {
        const dir = join(await restores.tempDir('damaged'), 'data');
        const result = await setup.pgstash(['restore', `--pg1-path=${dir}`, `--process-max=${processMax}`]);
        expect(result.code, result.stderr).toBe(26);
        expect(result.stderr).toContain(`[026]: '${stored}' is corrupt: checksum mismatch`);
        expect(existsSync(join(dir, 'global', 'pg_control'))).toBe(false);
      } finally {
        await writeFile(stored, original);
      }
    });
  }
});
