// restore --delta on a real cluster: a damaged or older data directory made right again, writing only what changed.
import { existsSync } from 'node:fs';
import {
  appendFile,
  chmod,
  chown,
  lchown,
  lstat,
  mkdir,
  readFile,
  rm,
  stat,
  symlink,
  truncate,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeBackup } from '../harness/backups.js';
import { pgBin } from '../harness/cluster.js';
import { exec } from '../harness/exec.js';
import { flipMiddleByte } from '../harness/damage.js';
import { runPgstash } from '../harness/pgstash.js';
import { mkdirForPostgres, postgresIds } from '../harness/postgres-user.js';
import { RestoreBench, verifyBackup, waitUntil } from '../harness/restore.js';
import { createStanzaSetup, writeConfig, type StanzaSetup } from '../harness/stanza.js';

/** restore --delta's own account (index.ts deltaSummary). */
interface DeltaReport {
  kept: number;
  keptBytes: number;
  written: number;
  writtenBytes: number;
  removed: number;
}

function deltaReport(stdout: string): DeltaReport {
  const match =
    /delta: (\d+) files kept \((\d+) bytes\), (\d+) written \((\d+) bytes\), (\d+) entries removed/.exec(
      stdout,
    );
  if (match === null) throw new Error(`no delta summary in:\n${stdout}`);
  const [kept, keptBytes, written, writtenBytes, removed] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  return { kept, keptBytes, written, writtenBytes, removed };
}

/** Gives what the test (root) made in a data directory to postgres, as a DBA's damage would be. */
async function givePostgres(path: string): Promise<void> {
  const { uid, gid } = postgresIds();
  await lchown(path, uid, gid);
}

const TABLES = ['t_deleted', 't_truncated', 't_extended', 't_flipped', 't_dir', 't_link', 't_mode'];

describe('restore --delta', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  /** Relation file (relative to the data directory) of each table, and of the large one. */
  const files = new Map<string, string>();
  let bigFile = '';
  let bigSize = 0;
  let controlSize = 0;
  let label = '';

  beforeAll(async () => {
    setup = await createStanzaSetup({ walSegmentSizeMb: 1 });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    for (const table of TABLES) {
      await setup.cluster.psql(`create table ${table} as select g from generate_series(1, 5000) g`);
      files.set(table, await setup.cluster.psql(`select pg_relation_filepath('${table}')`));
    }
    await setup.cluster.psql(
      'create table big as select g, md5(g::text) as h from generate_series(1, 200000) g; checkpoint',
    );
    bigFile = await setup.cluster.psql(`select pg_relation_filepath('big')`);
    bigSize = (await stat(join(setup.cluster.dataDir, bigFile))).size;
    controlSize = (await stat(join(setup.cluster.dataDir, 'global/pg_control'))).size;
    // Every file's mtime a second before the backup starts: --delta --force trusts only those (pgBackRest's guard).
    await sleep(1100);
    label = await takeBackup(setup);
  }, 300_000);

  afterAll(async () => {
    await restores.cleanup();
    await setup.destroy();
  });

  it('repairs every damage, writing only the damaged files, and the server starts with the data', async () => {
    const { dataDir } = await restores.restore([]);
    const at = (table: string): string => join(dataDir, files.get(table) ?? '');
    const sizeOf = async (table: string): Promise<number> => (await stat(at(table))).size;
    // t_extended is not among them: only appended to, it is cut back to the backup's size and kept.
    const damaged = ['t_deleted', 't_truncated', 't_flipped', 't_dir', 't_link'];
    let damagedBytes = 0;
    for (const table of damaged) damagedBytes += await sizeOf(table);

    await rm(at('t_deleted'));
    await truncate(at('t_truncated'), 8192);
    await appendFile(at('t_extended'), Buffer.alloc(8192));
    await flipMiddleByte(at('t_flipped'), 0xff);
    // A file replaced by a directory (with something in it), and a file replaced by a link to a file outside.
    await rm(at('t_dir'));
    await mkdir(at('t_dir'));
    await writeFile(join(at('t_dir'), 'inside'), 'x');
    const victimDir = await restores.tempDir('victim');
    const victim = join(victimDir, 'victim');
    await writeFile(victim, 'not to be written through');
    await rm(at('t_link'));
    await symlink(victim, at('t_link'));
    // Mode only: kept, its mode set back.
    await chmod(at('t_mode'), 0o644);
    // Added: a file, a relation-like file, a directory with a file, a link; a directory replaced by a file.
    await writeFile(join(dataDir, 'junk.txt'), 'junk');
    await writeFile(join(dataDir, files.get('t_mode') + '.extra'), 'junk');
    await mkdir(join(dataDir, 'base/extra_dir'));
    await writeFile(join(dataDir, 'base/extra_dir/file'), 'junk');
    await symlink('/etc', join(dataDir, 'link_to_etc'));
    await rm(join(dataDir, 'pg_notify'), { recursive: true });
    await writeFile(join(dataDir, 'pg_notify'), 'a file where a directory belongs');
    for (const path of [
      at('t_dir'),
      join(at('t_dir'), 'inside'),
      at('t_link'),
      join(dataDir, 'junk.txt'),
      join(dataDir, files.get('t_mode') + '.extra'),
      join(dataDir, 'base/extra_dir'),
      join(dataDir, 'base/extra_dir/file'),
      join(dataDir, 'link_to_etc'),
      join(dataDir, 'pg_notify'),
    ])
      await givePostgres(path);

    const result = await setup.pgstashOk([
      'restore',
      `--pg1-path=${dataDir}`,
      '--delta',
      '--log-level-console=detail',
    ]);
    expect(result.stderr).not.toContain("option 'delta'");
    // At detail level each removal is named with its reason, as pgBackRest does.
    expect(result.stdout).toContain(`remove '${join(dataDir, 'junk.txt')}': not in the backup`);
    expect(result.stdout).toContain(
      `remove '${join(dataDir, 'pg_notify')}': the backup has a directory there`,
    );
    const report = deltaReport(result.stdout);
    // The damaged relation files and pg_control (always written last): nothing else. postgresql.auto.conf, to
    // which the first restore appended its recovery settings, is cut back and kept (then rewritten as always).
    expect(report.written).toBe(damaged.length + 1);
    expect(report.writtenBytes).toBe(damagedBytes + controlSize);
    expect((await stat(at('t_extended'))).size).toBe(await sizeOfBackup('t_extended'));
    expect(report.keptBytes).toBeGreaterThanOrEqual(bigSize);
    // junk.txt, the .extra file, extra_dir, link_to_etc, t_dir's directory, t_link's link, the pg_notify file,
    // and the first restore's backup_manifest and recovery.signal.
    expect(report.removed).toBe(9);
    expect(await readFile(victim, 'utf8')).toBe('not to be written through');
    expect((await lstat(at('t_link'))).isFile()).toBe(true);
    expect((await stat(at('t_mode'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, 'pg_notify'))).isDirectory()).toBe(true);
    for (const gone of ['junk.txt', 'base/extra_dir', 'link_to_etc'])
      expect(existsSync(join(dataDir, gone))).toBe(false);
    const verified = await verifyBackup(dataDir);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);

    const pg = await restores.start(dataDir);
    for (const table of TABLES)
      expect(await pg.psql(`select count(*), sum(g) from ${table}`)).toBe('5000|12502500');
    expect(await pg.psql('select count(*) from big')).toBe('200000');
    await pg.stop();
  }, 300_000);

  /** A table's relation file size in the backed-up cluster (unchanged since the backup). */
  async function sizeOfBackup(table: string): Promise<number> {
    return (await stat(join(setup.cluster.dataDir, files.get(table) ?? ''))).size;
  }

  it('after the restored server ran and took writes: back to the backup, the large table kept', async () => {
    const { dataDir } = await restores.restore([]);
    const pg = await restores.start(dataDir);
    await waitUntil(pg, 'promotion', async () => (await pg.psql('select pg_is_in_recovery()')) === 'f');
    await pg.psql('insert into t_deleted select generate_series(1, 1000); checkpoint');
    await pg.stop();
    const result = await setup.pgstashOk(['restore', `--pg1-path=${dataDir}`, '--delta']);
    const report = deltaReport(result.stdout);
    expect(report.keptBytes).toBeGreaterThanOrEqual(bigSize);
    expect(report.writtenBytes).toBeLessThan(bigSize / 2);
    const verified = await verifyBackup(dataDir);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const again = await restores.start(dataDir);
    expect(await again.psql('select count(*) from t_deleted')).toBe('5000');
    await again.stop();
  }, 300_000);

  it('a large file (compared with direct reads): extended, cut back and kept with its mtime; flipped, written again', async () => {
    const { dataDir } = await restores.restore([]);
    const big = join(dataDir, bigFile);
    const restored = await stat(big);
    // Only appended to (its mtime put back): cut to the backup's size, then its checksum matches. The cut itself
    // changes the mtime, which must be set back to the backup's, as for any kept file.
    await appendFile(big, Buffer.alloc(3 * 8192, 1));
    await utimes(big, restored.atime, restored.mtime);
    const extended = await setup.pgstashOk(['restore', `--pg1-path=${dataDir}`, '--delta']);
    expect(deltaReport(extended.stdout).keptBytes).toBeGreaterThanOrEqual(bigSize);
    const kept = await stat(big);
    expect(kept.size).toBe(restored.size);
    expect(kept.mtimeMs).toBe(restored.mtimeMs);
    // One byte changed in its middle: the whole file is written again.
    await flipMiddleByte(big, 0xff);
    const flipped = await setup.pgstashOk(['restore', `--pg1-path=${dataDir}`, '--delta']);
    const report = deltaReport(flipped.stdout);
    expect(report.writtenBytes).toBeGreaterThanOrEqual(bigSize);
    expect(report.writtenBytes).toBeLessThan(bigSize + bigSize / 2);
    const verified = await verifyBackup(dataDir);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const pg = await restores.start(dataDir);
    expect(await pg.psql('select count(*), sum(g) from big')).toBe('200000|20000100000');
    await pg.stop();
  }, 300_000);

  it('--delta --force compares size and mtime only, as pgBackRest does', async () => {
    const { dataDir } = await restores.restore([]);
    const flipped = join(dataDir, files.get('t_flipped') ?? '');
    const touched = join(dataDir, files.get('t_extended') ?? '');
    const before = await stat(flipped);
    await flipMiddleByte(flipped, 0xff);
    await utimes(flipped, before.atime, before.mtime);
    await utimes(touched, new Date(), new Date());
    const damagedContent = await readFile(flipped);
    const result = await setup.pgstashOk(['restore', `--pg1-path=${dataDir}`, '--delta', '--force']);
    const report = deltaReport(result.stdout);
    // The touched file is written again (its mtime back to the backup's), with pg_control, postgresql.auto.conf
    // and the few files the backup's own checkpoint wrote in the second it started (pgBackRest's guard).
    expect(report.written).toBeGreaterThanOrEqual(2);
    expect(report.written).toBeLessThan(20);
    expect(Math.floor((await stat(touched)).mtimeMs / 1000)).toBe(
      Math.floor((await stat(join(setup.cluster.dataDir, files.get('t_extended') ?? ''))).mtimeMs / 1000),
    );
    // Same size and mtime: trusted, so the flipped byte stays (what --force means).
    expect((await readFile(flipped)).equals(damagedContent)).toBe(true);
  }, 300_000);

  it('owners: as root set back in place; as postgres a file it may not change is written anew', async () => {
    const { dataDir } = await restores.restore([]);
    const { uid } = postgresIds();
    const mode = join(dataDir, files.get('t_mode') ?? '');
    const owned = join(dataDir, files.get('t_flipped') ?? '');
    await chown(mode, 0, 0);
    await chmod(mode, 0o644);
    const asRoot = await setup.pgstashOk(['restore', `--pg1-path=${dataDir}`, '--delta'], { as: 'root' });
    // pg_control only: t_mode is kept, its owner and mode set back.
    expect(deltaReport(asRoot.stdout).written).toBe(1);
    expect((await stat(mode)).uid).toBe(uid);
    expect((await stat(mode)).mode & 0o777).toBe(0o600);

    await chown(owned, 0, 0);
    await chmod(owned, 0o644);
    const asPostgres = await setup.pgstashOk(['restore', `--pg1-path=${dataDir}`, '--delta']);
    // Readable and the same, but postgres may not chmod root's file: written anew, as postgres's.
    expect(deltaReport(asPostgres.stdout).written).toBe(2);
    expect((await stat(owned)).uid).toBe(uid);
    expect((await stat(owned)).mode & 0o777).toBe(0o600);
    const verified = await verifyBackup(dataDir);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  }, 300_000);

  it('a delta restore that fails part way leaves no pg_control (the old one went first); the next one completes', async () => {
    const { dataDir } = await restores.restore([]);
    const relation = files.get('t_deleted') ?? '';
    await rm(join(dataDir, relation));
    const stored = join(setup.repoPath, 'backup', setup.stanza, label, 'pg_data', `${relation}.zst`);
    const repair = await flipMiddleByte(stored, 0x10);
    try {
      const failed = await setup.pgstash(['restore', `--pg1-path=${dataDir}`, '--delta']);
      expect(failed.code, failed.stdout + failed.stderr).toBe(26);
    } finally {
      await repair();
    }
    // PostgreSQL refuses to start a data directory without pg_control: nothing passes for a whole cluster.
    expect(existsSync(join(dataDir, 'global/pg_control'))).toBe(false);
    const result = await setup.pgstashOk(['restore', `--pg1-path=${dataDir}`, '--delta']);
    expect(deltaReport(result.stdout).written).toBe(2);
    const verified = await verifyBackup(dataDir);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const pg = await restores.start(dataDir);
    expect(await pg.psql('select count(*) from t_deleted')).toBe('5000');
    await pg.stop();
  }, 300_000);

  it('refuses while PostgreSQL runs in the directory (38), changing nothing', async () => {
    const { dataDir } = await restores.restore([]);
    const pg = await restores.start(dataDir);
    const extra = join(dataDir, 'junk.txt');
    await writeFile(extra, 'junk');
    const result = await setup.pgstash(['restore', `--pg1-path=${dataDir}`, '--delta']);
    expect(result.code, result.stdout + result.stderr).toBe(38);
    expect(existsSync(extra)).toBe(true);
    expect(existsSync(join(dataDir, 'global/pg_control'))).toBe(true);
    expect(await pg.psql('select count(*) from t_mode')).toBe('5000');
    await pg.stop();
  }, 300_000);

  it('refuses a non-empty directory that is not a PostgreSQL data directory (40) unless --force', async () => {
    const dataDir = await restores.tempDir('restore');
    await writeFile(join(dataDir, 'keep.txt'), 'mine');
    await givePostgres(join(dataDir, 'keep.txt'));
    const result = await setup.pgstash(['restore', `--pg1-path=${dataDir}`, '--delta']);
    expect(result.code, result.stdout + result.stderr).toBe(40);
    expect(result.stderr).toContain(`'${dataDir}'`);
    expect(result.stderr).toContain('--force');
    expect(await readFile(join(dataDir, 'keep.txt'), 'utf8')).toBe('mine');

    await restores.restore(['--delta', '--force'], { dataDir });
    expect(existsSync(join(dataDir, 'keep.txt'))).toBe(false);
  }, 300_000);

  it('into an empty directory, and with delta=y in [global]: a whole restore, no warning', async () => {
    const { result } = await restores.restore(['--delta']);
    expect(result.stderr).not.toContain("option 'delta'");
    expect(deltaReport(result.stdout).kept).toBe(0);

    const configPath = join(setup.dir, 'delta.conf');
    const text = await readFile(setup.configPath, 'utf8');
    await writeConfig(configPath, text.replace('[global]\n', '[global]\ndelta=y\n'));
    const dataDir = join(await restores.tempDir('restore'), 'data');
    const global = await runPgstash(
      [`--config=${configPath}`, `--stanza=${setup.stanza}`, 'restore', `--pg1-path=${dataDir}`],
      { as: 'postgres' },
    );
    expect(global.code, global.stdout + global.stderr).toBe(0);
    expect(global.stderr).not.toContain("option 'delta'");
    expect((await verifyBackup(dataDir)).code).toBe(0);
  }, 300_000);
});

describe('restore --delta with a tablespace', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let relation = '';

  beforeAll(async () => {
    setup = await createStanzaSetup({ walSegmentSizeMb: 1 });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    const tablespaceDir = await mkdirForPostgres(join(setup.dir, 'ts'), 0o700);
    await setup.cluster.psql(`create tablespace ts location '${tablespaceDir}'`);
    await setup.cluster.psql('create table tt tablespace ts as select g from generate_series(1, 5000) g');
    // pg_tblspc/<oid>/PG_15_<catalog>/<db>/<relfilenode>
    relation = await setup.cluster.psql(`select pg_relation_filepath('tt')`);
    await takeBackup(setup);
  }, 300_000);

  afterAll(async () => {
    await restores.cleanup();
    await setup.destroy();
  });

  it('repairs a changed tablespace link and the tablespace directory, leaving other versions beside it', async () => {
    const tablespaceDir = await restores.tempDir('ts');
    const map = `--tablespace-map=ts=${tablespaceDir}`;
    const { dataDir } = await restores.restore([map]);
    const [, oid = '', versionDir = '', ...rest] = relation.split('/');
    const link = join(dataDir, 'pg_tblspc', oid);
    const inTablespace = join(tablespaceDir, versionDir);
    await rm(join(inTablespace, ...rest));
    await writeFile(join(inTablespace, rest[0] ?? '', 'junk'), 'junk');
    await mkdir(join(tablespaceDir, 'PG_99_other'));
    await writeFile(join(tablespaceDir, 'PG_99_other', 'keep'), 'another cluster');
    const elsewhere = await restores.tempDir('elsewhere');
    await writeFile(join(elsewhere, 'keep'), 'not ours');
    await rm(link);
    await symlink(elsewhere, link);
    for (const path of [
      join(inTablespace, rest[0] ?? '', 'junk'),
      join(tablespaceDir, 'PG_99_other'),
      join(tablespaceDir, 'PG_99_other', 'keep'),
      join(elsewhere, 'keep'),
      link,
    ])
      await givePostgres(path);

    const result = await setup.pgstashOk(['restore', `--pg1-path=${dataDir}`, '--delta', map]);
    const report = deltaReport(result.stdout);
    // tt's file and pg_control.
    expect(report.written).toBe(2);
    expect(existsSync(join(inTablespace, rest[0] ?? '', 'junk'))).toBe(false);
    expect(await readFile(join(tablespaceDir, 'PG_99_other', 'keep'), 'utf8')).toBe('another cluster');
    expect(await readFile(join(elsewhere, 'keep'), 'utf8')).toBe('not ours');
    // Another version's directory is not the backup's, and stays: pg_verifybackup is told to look past it.
    const verified = await exec(
      pgBin('pg_verifybackup'),
      ['-n', '-i', `pg_tblspc/${oid}/PG_99_other`, dataDir],
      { asPostgres: true },
    );
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const pg = await restores.start(dataDir);
    expect(await pg.psql('select count(*) from tt')).toBe('5000');
    expect(await pg.psql(`select pg_tablespace_location(${oid})`)).toBe(tablespaceDir);
    await pg.stop();
  }, 300_000);
});
