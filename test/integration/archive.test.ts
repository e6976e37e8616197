// End to end on a real PostgreSQL 15: archive_command runs pgstash, every segment comes back byte-identical,
// and a recovery from pg_basebackup -X none through restore_command reaches the end of the archive.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgCluster } from '../harness/cluster.js';
import { execChecked } from '../harness/exec.js';
import { pgstashCommandLine } from '../harness/pgstash.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { createTempDir, removeTempDir } from '../harness/tmp.js';
import { switchWal, waitArchived } from '../harness/wal.js';

const MATRIX = [
  { compressType: 'none', encrypted: false },
  { compressType: 'gz', encrypted: false },
  { compressType: 'lz4', encrypted: false },
  { compressType: 'zst', encrypted: false },
  { compressType: 'none', encrypted: true },
  { compressType: 'gz', encrypted: true },
  { compressType: 'lz4', encrypted: true },
  { compressType: 'zst', encrypted: true },
] as const;

describe.each(MATRIX)(
  'WAL archiving, compress-type=$compressType encrypted=$encrypted',
  ({ compressType, encrypted }) => {
    let setup: StanzaSetup;
    let restored: PgCluster | undefined;
    /** The base backup and fetched copies: tens of MB for each case, removed once the restored server is stopped. */
    const dirs: string[] = [];

    beforeAll(async () => {
      setup = await createStanzaSetup({
        compressType,
        ...(encrypted ? { cipherPass: 'correct horse battery staple' } : {}),
        walSegmentSizeMb: 1,
        // Keep every segment in pg_wal so the server's own copies can be compared with what archive-get returns.
        cluster: { settings: { wal_keep_size: '1GB', max_wal_size: '1GB', checkpoint_timeout: '1h' } },
      });
      await setup.cluster.start();
      await setup.pgstashOk(['stanza-create']);
    });

    afterAll(async () => {
      await restored?.destroy();
      for (const dir of dirs.splice(0)) await removeTempDir(dir);
      await setup?.destroy();
    });

    it('check succeeds once archiving works', async () => {
      const result = await setup.pgstashOk(['check']);
      expect(result.stdout).toMatch(/archived to repo1/);
    });

    it('archives every segment, archive-get returns each byte-identical, recovery reaches the end', async () => {
      const { cluster } = setup;
      await cluster.psql('create table t (id int primary key, payload text)');
      await cluster.psql('insert into t select g, repeat(md5(g::text), 20) from generate_series(1, 5000) g');
      await switchWal(setup);
      const baseDir = await createTempDir({ label: 'base' });
      dirs.push(baseDir);
      const base = join(baseDir, 'data');
      await cluster.runTool('pg_basebackup', ['-D', base, '-X', 'none', '-c', 'fast']);
      for (let round = 0; round < 4; round++) {
        await cluster.psql(
          `insert into t select g, repeat(md5(g::text), 20) from generate_series(${5001 + round * 5000}, ${5000 + (round + 1) * 5000}) g`,
        );
        await switchWal(setup);
      }
      await cluster.psql("insert into t values (999999, 'last row')");
      const last = await switchWal(setup);
      await waitArchived(setup, last);
      const expectedRows = await cluster.psql('select count(*) from t');
      expect(Number(expectedRows)).toBe(25001);

      // Every segment the server marked as archived is in the repository and comes back byte-identical.
      const status = await readdir(join(cluster.dataDir, 'pg_wal', 'archive_status'));
      const archived = status
        .filter((name) => name.endsWith('.done'))
        .map((name) => name.slice(0, -'.done'.length));
      expect(archived.length).toBeGreaterThanOrEqual(6);
      const fetchDir = await createTempDir({ label: 'fetch' });
      dirs.push(fetchDir);
      for (const walFile of archived) {
        const dest = join(fetchDir, walFile);
        await setup.pgstashOk(['archive-get', walFile, dest]);
        const original = await readFile(join(cluster.dataDir, 'pg_wal', walFile));
        const fetched = await readFile(dest);
        expect(fetched.equals(original), `${walFile} differs`).toBe(true);
      }
      await cluster.stop('fast');

      // Recovery from the base backup through restore_command replays to the end of the archive.
      await writeFile(
        join(base, 'postgresql.auto.conf'),
        `restore_command = '${`${pgstashCommandLine(setup.configPath)} --stanza=${setup.stanza} archive-get %f "%p"`.replaceAll("'", "''")}'\n`,
      );
      await writeFile(join(base, 'recovery.signal'), '');
      await execChecked('chown', ['-R', 'postgres:postgres', base]);
      restored = await PgCluster.fromDataDir(base, { settings: { archive_mode: 'off' } });
      await restored.start();
      await restored.waitForRecoveryEnd();
      expect(await restored.psql('select count(*) from t')).toBe(expectedRows);
      expect(await restored.psql('select payload from t where id = 999999')).toBe('last row');
    });

    it('info shows the stanza and the archived WAL range', async () => {
      const result = await setup.pgstashOk(['info', '--output=json']);
      const [stanza] = JSON.parse(result.stdout) as [
        { name: string; archive: { min: string; max: string }[]; cipher: string },
      ];
      expect(stanza.name).toBe('main');
      expect(stanza.cipher).toBe(encrypted ? 'aes-256-gcm' : 'none');
      expect(stanza.archive[0]?.min).toMatch(/^[0-9A-F]{24}$/);
      expect(stanza.archive[0]?.max).toMatch(/^[0-9A-F]{24}$/);
      expect(stanza.archive[0]!.max > stanza.archive[0]!.min).toBe(true);
    });

    it('info --output=json stays JSON with log-level-console=info: its begin and end lines are debug', async () => {
      const result = await setup.pgstashOk(['info', '--output=json', '--log-level-console=info']);
      expect(() => JSON.parse(result.stdout) as unknown, result.stdout).not.toThrow();
      const text = await setup.pgstashOk(['info', '--log-level-console=debug']);
      expect(text.stdout).toContain('info command begin');
    });
  },
);
