// Backup and restore end to end on real PostgreSQL 15: a larger data set restored with parallel copies comes back
// identical (pg_dumpall, pg_checksums, pg_amcheck), info describes the backup, and tablespaces survive a restore
// both to a new directory (--tablespace-map) and to their original location.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chown, mkdir, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pgBin, type PgCluster } from '../harness/cluster.js';
import { exec } from '../harness/exec.js';
import { postgresIds } from '../harness/postgres-user.js';
import { RestoreBench, verifyBackup } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { switchWal, waitArchived } from '../harness/wal.js';

const LABEL = /backup (\d{8}-\d{6}F) complete/;

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** pg_dumpall of a running cluster into `file`. */
async function dumpAll(cluster: PgCluster, file: string): Promise<void> {
  // A fixed \restrict key: by default each dump gets a random one.
  await cluster.runTool('pg_dumpall', ['--restrict-key=pgstash', '-f', file]);
}

/** The first line where two dumps differ, for a readable failure. */
async function firstDifference(a: string, b: string): Promise<string> {
  const left = (await readFile(a, 'utf8')).split('\n');
  const right = (await readFile(b, 'utf8')).split('\n');
  const at = left.findIndex((line, index) => line !== right[index]);
  return at < 0
    ? `the dumps differ in length (${left.length} and ${right.length} lines)`
    : `line ${at + 1}: '${left[at]}' vs '${right[at]}'`;
}

/** A postgres-owned directory at `path` (the tests run as root). */
async function postgresDir(path: string): Promise<string> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  const { uid, gid } = postgresIds();
  await chown(path, uid, gid);
  return path;
}

describe('a larger data set, backed up and restored with process-max=2', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let label: string;
  let testStart: number;

  beforeAll(async () => {
    testStart = Math.floor(Date.now() / 1000);
    // 16 MiB segments: pgbench -i writes about 80 MiB of WAL, which is fewer archive-push runs this way.
    setup = await createStanzaSetup({ cluster: { settings: { max_wal_size: '1GB' } } });
    restores = new RestoreBench(setup);
    const { cluster } = setup;
    await cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await cluster.psql('create database bench');
    await cluster.runTool('pgbench', ['-i', '-s', '5', '-q', 'bench']);
    await cluster.psql(
      `create table items (id bigint primary key, grp int not null, name text not null, tags text[], body text);
       insert into items
         select g, g % 97, 'item ' || g, array['t' || (g % 13), 't' || (g % 7)],
                case when g % 100 = 0 then repeat(md5(g::text), 200) else md5(g::text) end
           from generate_series(1, 100000) g;
       create index items_grp on items (grp);
       create unique index items_name on items (name);
       create index items_tags on items using gin (tags);
       vacuum analyze items;`,
      { database: 'bench' },
    );
    // Writes go on during the backup, so the restore is only consistent if WAL replay does its part; tables are
    // created, dropped and rewritten meanwhile, so files appear and vanish under the copy.
    let copying = true;
    const churn = async (): Promise<void> => {
      for (let round = 1; copying; round++) {
        await cluster.psql(
          `create table churn_${round} as select g from generate_series(1, 20000) g;
           drop table if exists churn_${round - 1};
           vacuum full pgbench_tellers;`,
          { database: 'bench' },
        );
      }
    };
    const backupRun = setup
      .pgstashOk(['backup', '--type=full', '--process-max=2', '--start-fast'])
      .finally(() => (copying = false));
    const [, , backup] = await Promise.all([
      cluster.runTool('pgbench', ['-n', '-c', '2', '-T', '6', 'bench']),
      churn(),
      backupRun,
    ]);
    label = LABEL.exec(backup.stdout)?.[1] ?? '';
    expect(label, backup.stdout).not.toBe('');
    // pgbench after the backup's checkpoint writes full-page images: many segments, slow to archive on a busy box.
    await waitArchived(setup, await switchWal(setup), 300);
  });

  afterEach(async () => {
    await restores?.cleanup();
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  it('info --output=json describes the backup', async () => {
    const info = await setup.pgstashOk(['info', '--output=json']);
    const [stanza] = JSON.parse(info.stdout) as [
      {
        name: string;
        status: { code: number; message: string };
        backup: {
          label: string;
          type: string;
          timestamp: { start: number; stop: number };
          lsn: { start: string; stop: string };
          archive: { start: string; stop: string };
          info: { size: number; 'file-count': number; repository: { size: number } };
        }[];
      },
    ];
    expect(stanza.name).toBe('main');
    // No backup running any more: the lock is free (pgBackRest's status.lock.backup).
    expect(stanza.status).toEqual({ code: 0, message: 'ok', lock: { backup: { held: false } } });
    expect(stanza.backup).toHaveLength(1);
    const [backup] = stanza.backup;
    expect(backup?.label).toBe(label);
    expect(backup?.type).toBe('full');
    const { timestamp, lsn, archive, info: sizes } = backup!;
    expect(timestamp.start).toBeGreaterThanOrEqual(testStart);
    expect(timestamp.stop).toBeGreaterThanOrEqual(timestamp.start);
    expect(timestamp.stop).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect(lsn.start).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(await setup.cluster.psql(`select '${lsn.start}'::pg_lsn <= '${lsn.stop}'::pg_lsn`)).toBe('t');
    // The WAL range is the segments holding the start and stop LSNs.
    expect(archive.start).toBe(await setup.cluster.psql(`select pg_walfile_name('${lsn.start}')`));
    expect(archive.stop >= archive.start).toBe(true);
    expect(archive.stop).toMatch(/^00000001[0-9A-F]{16}$/);
    const benchSize = Number(await setup.cluster.psql("select pg_database_size('bench')"));
    expect(sizes.size).toBeGreaterThan(benchSize * 0.9);
    expect(sizes.repository.size).toBeGreaterThan(0);
    expect(sizes.repository.size).toBeLessThan(sizes.size);
    expect(sizes['file-count']).toBeGreaterThan(900);
  });

  it('restores identically: pg_dumpall, pg_amcheck and pg_checksums agree', async () => {
    const dumps = await restores.tempDir('dumps');
    await dumpAll(setup.cluster, join(dumps, 'source.sql'));
    const { dataDir, result } = await restores.restore(['--process-max=2']);
    expect(result.stdout).toContain(`restored backup set ${label}`);
    const restored = await restores.start(dataDir);
    await restored.waitForRecoveryEnd();

    await dumpAll(restored, join(dumps, 'restored.sql'));
    const [source, copy] = [join(dumps, 'source.sql'), join(dumps, 'restored.sql')];
    if ((await sha256File(source)) !== (await sha256File(copy))) {
      expect.fail(`pg_dumpall of the restored cluster differs: ${await firstDifference(source, copy)}`);
    }
    expect(await restored.psql('select count(*) from pgbench_accounts', { database: 'bench' })).toBe(
      '500000',
    );

    const amcheck = await restored.runTool('pg_amcheck', ['--all', '--heapallindexed', '--install-missing']);
    expect(amcheck.stdout + amcheck.stderr).toBe('');

    await restored.stop();
    const checksums = await exec(pgBin('pg_checksums'), ['--check', '-D', dataDir], { asPostgres: true });
    expect(checksums.code, checksums.stdout + checksums.stderr).toBe(0);
    expect(checksums.stdout).toMatch(/Bad checksums:\s+0\b/);
    expect(checksums.stdout).toMatch(/Data checksum version:\s+1\b/);
  });
});

describe('tablespaces (lz4, encrypted repository)', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let tablespaceDir: string;
  let tablespaceOid: string;

  /** Rows of the table in the tablespace and the tablespace's location, as the server reports them. */
  async function tablespaceState(cluster: PgCluster): Promise<string> {
    return cluster.psql(
      "select (select count(*) from tt), (select pg_tablespace_location(oid) from pg_tablespace where spcname = 'ts')",
    );
  }

  beforeAll(async () => {
    setup = await createStanzaSetup({
      walSegmentSizeMb: 1,
      compressType: 'lz4',
      cipherPass: 'tablespaces are directories too',
    });
    restores = new RestoreBench(setup);
    tablespaceDir = await postgresDir(join(setup.dir, 'ts'));
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql(`create tablespace ts location '${tablespaceDir}'`);
    await setup.cluster.psql(
      `create table tt (id int, v text) tablespace ts;
       alter table tt add primary key (id) using index tablespace ts;
       insert into tt select g, md5(g::text) from generate_series(1, 5000) g;`,
    );
    tablespaceOid = await setup.cluster.psql("select oid from pg_tablespace where spcname = 'ts'");
    await setup.pgstashOk(['backup', '--type=full', '--start-fast']);
    // Written after the backup: only WAL replay brings these into the tablespace.
    await setup.cluster.psql('insert into tt select g, md5(g::text) from generate_series(5001, 6000) g');
    await waitArchived(setup, await switchWal(setup));
  });

  afterEach(async () => {
    await restores?.cleanup();
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  it('info --set shows the backup with its tablespace', async () => {
    const list = JSON.parse((await setup.pgstashOk(['info', '--output=json'])).stdout) as [
      { backup: { label: string }[] },
    ];
    const label = list[0].backup[0]?.label ?? '';
    const text = (await setup.pgstashOk(['info', `--set=${label}`])).stdout;
    expect(text).toContain(`full backup: ${label}`);
    expect(text).toContain(`tablespaces: ts (${tablespaceOid}) => ${tablespaceDir}`);
    expect(text).toContain('encrypted: yes');
    const json = JSON.parse((await setup.pgstashOk(['info', `--set=${label}`, '--output=json'])).stdout) as [
      { backup: { tablespace: { name: string; oid: number; path: string }[] }[] },
    ];
    expect(json[0].backup[0]?.tablespace).toEqual([
      { name: 'ts', oid: Number(tablespaceOid), path: tablespaceDir },
    ]);
    // Times are printed local, with their offset (Kathmandu: +05:45, no daylight saving), as the label is.
    const start = (
      JSON.parse((await setup.pgstashOk(['info', '--output=json'])).stdout) as [
        { backup: { timestamp: { start: number } }[] },
      ]
    )[0].backup[0]?.timestamp.start as number;
    const kathmandu = new Date((start + 5 * 3600 + 45 * 60) * 1000)
      .toISOString()
      .replace('T', ' ')
      .slice(0, 19);
    const local = await setup.pgstashOk(['info', `--set=${label}`], { env: { TZ: 'Asia/Kathmandu' } });
    expect(local.stdout).toContain(`timestamp start/stop: ${kathmandu}+05:45 / `);
    const missing = await setup.pgstash(['info', '--set=20200101-000000F']);
    expect(missing.code).toBe(75);
    expect(missing.stderr).toContain("backup set '20200101-000000F' does not exist");
  });

  it('restores (as root) to a new directory with --tablespace-map; pg_verifybackup catches an altered file', async () => {
    const mapped = join(await restores.tempDir('ts-mapped'), 'ts');
    // As root, restore gives every file and directory the owner recorded in the backup.
    const { dataDir } = await restores.restore([`--tablespace-map=ts=${mapped}`], { as: 'root' });
    expect(await readlink(join(dataDir, 'pg_tblspc', tablespaceOid))).toBe(mapped);
    // What restore adds to the backup's files belongs to the cluster's owner too.
    const owner = (await stat(dataDir)).uid;
    expect(owner).not.toBe(0);
    for (const name of ['backup_manifest', 'recovery.signal', 'postgresql.auto.conf'])
      expect((await stat(join(dataDir, name))).uid, name).toBe(owner);

    // Alter one restored file in the tablespace: pg_verifybackup names it. Put it back: it passes again.
    const relation = await setup.cluster.psql("select pg_relation_filepath('tt')");
    expect(relation).toMatch(new RegExp(`^pg_tblspc/${tablespaceOid}/`));
    const file = join(dataDir, relation);
    const original = await readFile(file);
    const altered = Buffer.from(original);
    altered[100] = (altered[100] ?? 0) ^ 0xff;
    await writeFile(file, altered);
    const failed = await verifyBackup(dataDir);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain(`checksum mismatch for file "${relation}"`);
    await writeFile(file, original);
    // A file under pg_data too.
    const versionFile = join(dataDir, 'PG_VERSION');
    await writeFile(versionFile, '14\n');
    const failedAgain = await verifyBackup(dataDir);
    expect(failedAgain.code).not.toBe(0);
    expect(failedAgain.stderr).toContain('checksum mismatch for file "PG_VERSION"');
    await writeFile(versionFile, '15\n');
    const passed = await verifyBackup(dataDir);
    expect(passed.code, passed.stderr).toBe(0);

    const restored = await restores.start(dataDir);
    await restored.waitForRecoveryEnd();
    expect(await tablespaceState(restored)).toBe(`6000|${mapped}`);
  });

  it('will not empty the running source cluster tablespace for a restore elsewhere, even with --force', async () => {
    const dataDir = join(await restores.tempDir('elsewhere'), 'data');
    const before = await readdir(tablespaceDir, { recursive: true });
    for (const extra of [[], ['--force']]) {
      const result = await setup.pgstash(['restore', `--pg1-path=${dataDir}`, ...extra]);
      expect(result.code).toBe(40);
      expect(result.stderr).toContain(
        `[040]: unable to restore tablespace 'ts' into '${tablespaceDir}': the directory is not empty, and it is where the backed-up cluster (data directory '${setup.cluster.dataDir}') keeps that tablespace`,
      );
      expect(result.stderr).toContain(`--tablespace-map=ts=${tablespaceDir} --force`);
    }
    expect(await readdir(tablespaceDir, { recursive: true })).toEqual(before);
    expect(await tablespaceState(setup.cluster)).toBe(`6000|${tablespaceDir}`);
  });

  it('restores to its original location once the source cluster and tablespace are gone', async () => {
    const { cluster } = setup;
    await cluster.stop();
    await rm(cluster.dataDir, { recursive: true, force: true });
    await rm(tablespaceDir, { recursive: true, force: true });
    const { dataDir } = await restores.restore([], { dataDir: cluster.dataDir });
    expect(dataDir).toBe(cluster.dataDir);
    expect(await readlink(join(dataDir, 'pg_tblspc', tablespaceOid))).toBe(tablespaceDir);
    const restored = await restores.start(dataDir);
    await restored.waitForRecoveryEnd();
    expect(await tablespaceState(restored)).toBe(`6000|${tablespaceDir}`);
  });
});
