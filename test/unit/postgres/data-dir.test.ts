// Tests of the data directory walk: exclusions, tablespaces, links, vanishing files, and a real PostgreSQL 15 cluster.
import { writeFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgStashError, type ErrorKind } from '../../../src/common/errors.js';
import { isRelationFile, listDataDir, type DataDirEntry } from '../../../src/postgres/data-dir.js';
import { PgCluster } from '../../harness/cluster.js';
import { createTempDir, removeAllTempDirs } from '../../harness/tmp.js';

afterAll(async () => {
  await removeAllTempDirs();
});

async function collect(
  pgPath: string,
  options: Parameters<typeof listDataDir>[1] = { pgVersion: '15' },
): Promise<DataDirEntry[]> {
  const entries: DataDirEntry[] = [];
  for await (const entry of listDataDir(pgPath, options)) entries.push(entry);
  return entries;
}

/** `type name` per entry (with ' -> destination' for links): one readable line each for exact comparisons. */
function outline(entries: readonly DataDirEntry[]): string[] {
  return entries.map(
    (entry) =>
      `${entry.type} ${entry.name}${entry.linkDestination === undefined ? '' : ` -> ${entry.linkDestination}`}`,
  );
}

async function file(path: string, content = 'x'): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, content);
}

async function expectError(
  promise: Promise<unknown>,
  { kind, message }: { kind: ErrorKind; message: RegExp },
): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(isPgStashError(error, kind), `expected a ${String(kind)} error, got ${String(error)}`).toBe(true);
  expect((error as Error).message).toMatch(message);
}

/** A fake PostgreSQL 15 data directory with one of everything the walk must keep or leave out. */
async function makeDataDir(root: string): Promise<{ pgData: string; outside: string }> {
  const pgData = join(root, 'data');
  const outside = join(root, 'outside');
  await mkdir(pgData, { mode: 0o700 });
  await file(join(pgData, 'PG_VERSION'), '15\n');
  for (const name of [
    'postgresql.conf',
    'postgresql.auto.conf',
    'pg_hba.conf',
    'postmaster.pid',
    'postmaster.opts',
    'backup_label',
    'tablespace_map',
    'backup_manifest',
    'backup_manifest.tmp',
    'recovery.signal',
    'standby.signal',
    'current_logfiles',
    'postgresql.auto.conf.tmp',
    'pg_internal.init',
    // Left by a restore killed at its very end (command/restore/restore-lock.ts).
    '.pgstash-restore.lock',
    '.pgstash-restore.lock.0123456789abcdef.tmp',
    // Left by a restore that did not finish, or was killed just after pg_control (command/restore/unfinished.ts).
    '.pgstash-restore.unfinished',
  ]) {
    await file(join(pgData, name));
  }
  // A database with logged, unlogged (16384 has an init fork) and temporary relations.
  const db = join(pgData, 'base', '1');
  for (const name of [
    '1259',
    '1259_fsm',
    '1259_vm',
    '16384',
    '16384.1',
    '16384_fsm',
    '16384_vm',
    '16384_init',
    '16385',
    '16385.1',
    't3_16390',
    't3_16390_fsm',
    't3_16390.1',
    'pg_filenode.map',
    'pg_internal.init',
    'PG_VERSION',
  ]) {
    await file(join(db, name));
  }
  await file(join(pgData, 'base', 'pgsql_tmp', 'pgsql_tmp123.0'));
  await file(join(pgData, 'global', '1262'));
  await file(join(pgData, 'global', 'pg_control'));
  await file(join(pgData, 'global', 'pg_internal.init'));
  await file(join(pgData, 'global', 'pg_internal.init.4242'));
  await file(join(pgData, 'pg_wal', '000000010000000000000001'));
  await file(join(pgData, 'pg_wal', 'archive_status', '000000010000000000000001.done'));
  for (const dir of ['pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans']) {
    await file(join(pgData, dir, '0000'));
  }
  await file(join(pgData, 'pg_replslot', 'slot1', 'state'));
  await file(join(pgData, 'pg_stat', 'pgstat.stat'));
  await file(join(pgData, 'pg_xact', '0000'));
  // pg_internal.init and pgsql_tmp only have their special meaning as names, not as parts of names.
  await file(join(pgData, 'pg_logical', 'replorigin_checkpoint'));
  await file(join(pgData, 'pg_logical', 'my_pgsql_tmp_note'));
  await mkdir(join(pgData, 'pg_tblspc'));

  // Tablespace 16400 lives outside; its location also holds another major version's directory.
  const ts = join(outside, 'ts1');
  await file(join(ts, 'PG_15_202209061', '5', '16500'));
  await file(join(ts, 'PG_15_202209061', '5', '16501'));
  await file(join(ts, 'PG_15_202209061', '5', '16501_init'));
  await file(join(ts, 'PG_15_202209061', '5', 't4_16502'));
  await file(join(ts, 'PG_15_202209061', 'pgsql_tmp', 'pgsql_tmp9.1'));
  await file(join(ts, 'PG_14_202107181', '5', '1'));
  await symlink(ts, join(pgData, 'pg_tblspc', '16400'));
  // Tablespace 16401 was dropped: its link points nowhere.
  await symlink(join(outside, 'dropped'), join(pgData, 'pg_tblspc', '16401'));
  // An in-place tablespace (allow_in_place_tablespaces) is a directory.
  await file(join(pgData, 'pg_tblspc', '16402', 'PG_15_202209061', '5', '16600'));

  // Links elsewhere: a log directory and a configuration file kept outside the data directory.
  await file(join(outside, 'log', 'postgresql.log'));
  await symlink(join(outside, 'log'), join(pgData, 'log'));
  await file(join(outside, 'conf', 'extra.conf'));
  await symlink('../outside/conf/extra.conf', join(pgData, 'extra.conf'));
  return { pgData, outside };
}

describe('listDataDir', () => {
  it('lists what a backup copies, depth first and sorted, leaving out what PostgreSQL leaves out', async () => {
    const root = await createTempDir({ owner: 'root', label: 'datadir' });
    const { pgData, outside } = await makeDataDir(root);
    const entries = await collect(pgData);
    expect(outline(entries)).toEqual([
      'path pg_data',
      'file pg_data/PG_VERSION',
      'path pg_data/base',
      'path pg_data/base/1',
      'file pg_data/base/1/1259',
      'file pg_data/base/1/1259_fsm',
      'file pg_data/base/1/1259_vm',
      'file pg_data/base/1/16384_init',
      'file pg_data/base/1/16385',
      'file pg_data/base/1/16385.1',
      'file pg_data/base/1/PG_VERSION',
      'file pg_data/base/1/pg_filenode.map',
      `link pg_data/extra.conf -> ../outside/conf/extra.conf`,
      'file pg_data/extra.conf',
      'path pg_data/global',
      'file pg_data/global/1262',
      'file pg_data/global/pg_control',
      `link pg_data/log -> ${join(outside, 'log')}`,
      'path pg_data/log',
      'file pg_data/log/postgresql.log',
      'path pg_data/pg_dynshmem',
      'file pg_data/pg_hba.conf',
      'path pg_data/pg_logical',
      'file pg_data/pg_logical/my_pgsql_tmp_note',
      'file pg_data/pg_logical/replorigin_checkpoint',
      'path pg_data/pg_notify',
      'path pg_data/pg_replslot',
      'path pg_data/pg_serial',
      'path pg_data/pg_snapshots',
      'path pg_data/pg_stat',
      'file pg_data/pg_stat/pgstat.stat',
      'path pg_data/pg_stat_tmp',
      'path pg_data/pg_subtrans',
      'path pg_data/pg_tblspc',
      `link pg_data/pg_tblspc/16400 -> ${join(outside, 'ts1')}`,
      'path pg_tblspc/16400',
      'path pg_tblspc/16400/PG_15_202209061',
      'path pg_tblspc/16400/PG_15_202209061/5',
      'file pg_tblspc/16400/PG_15_202209061/5/16500',
      'file pg_tblspc/16400/PG_15_202209061/5/16501_init',
      `link pg_data/pg_tblspc/16401 -> ${join(outside, 'dropped')}`,
      'path pg_data/pg_tblspc/16402',
      'path pg_data/pg_tblspc/16402/PG_15_202209061',
      'path pg_data/pg_tblspc/16402/PG_15_202209061/5',
      'file pg_data/pg_tblspc/16402/PG_15_202209061/5/16600',
      'path pg_data/pg_wal',
      'path pg_data/pg_xact',
      'file pg_data/pg_xact/0000',
      'file pg_data/postgresql.auto.conf',
      'file pg_data/postgresql.conf',
    ]);
    // Followed links report where their content is; the link entry where the link is.
    const byName = (type: string, name: string): DataDirEntry | undefined =>
      entries.find((entry) => entry.type === type && entry.name === name);
    expect(byName('link', 'pg_data/extra.conf')?.absolutePath).toBe(join(pgData, 'extra.conf'));
    expect(byName('file', 'pg_data/extra.conf')?.absolutePath).toBe(join(outside, 'conf', 'extra.conf'));
    expect(byName('file', 'pg_tblspc/16400/PG_15_202209061/5/16500')?.absolutePath).toBe(
      join(outside, 'ts1', 'PG_15_202209061', '5', '16500'),
    );
  });

  it('reports size, mtime in whole seconds, permission bits and owner', async () => {
    const root = await createTempDir({ owner: 'root', label: 'datadir' });
    const { pgData } = await makeDataDir(root);
    const conf = join(pgData, 'postgresql.conf');
    await writeFile(conf, 'shared_buffers = 128MB\n');
    await chmod(conf, 0o640);
    await utimes(conf, 1_795_256_100.75, 1_795_256_100.75);
    await chmod(join(pgData, 'base'), 0o750);
    const entries = await collect(pgData);
    const confEntry = entries.find((entry) => entry.name === 'pg_data/postgresql.conf');
    expect(confEntry).toMatchObject({
      type: 'file',
      size: 23,
      mtime: 1_795_256_100,
      mode: 0o640,
      uid: process.getuid?.(),
      gid: process.getgid?.(),
      absolutePath: conf,
    });
    expect(confEntry?.linkDestination).toBeUndefined();
    expect(entries.find((entry) => entry.name === 'pg_data/base')).toMatchObject({
      type: 'path',
      size: 0,
      mode: 0o750,
    });
    expect(entries[0]).toMatchObject({ name: 'pg_data', type: 'path', mode: 0o700 });
  });

  it('skips files and directories that vanish during the walk', async () => {
    const root = await createTempDir({ owner: 'root', label: 'datadir' });
    const pgData = join(root, 'data');
    await file(join(pgData, 'PG_VERSION'), '15\n');
    // More files than the walk stats ahead, so that some are removed after the listing but before their stat.
    const names = Array.from({ length: 60 }, (_, index) => String(20000 + index));
    for (const name of names) await file(join(pgData, 'base', '1', name));
    await file(join(pgData, 'base', '2', '30000'));
    await file(join(pgData, 'base', '3', '30001'));
    const seen: string[] = [];
    for await (const entry of listDataDir(pgData, { pgVersion: '15' })) {
      seen.push(entry.name);
      if (entry.name === 'pg_data/base/1/20000') {
        for (const name of names.slice(40)) await rm(join(pgData, 'base', '1', name));
        // Database 2 was listed (and stat'ed ahead) with base/; now it is dropped before its own listing.
        await rm(join(pgData, 'base', '2'), { recursive: true });
      }
    }
    expect(seen.filter((name) => name.startsWith('pg_data/base/1/'))).toEqual(
      names.slice(0, 40).map((name) => `pg_data/base/1/${name}`),
    );
    expect(seen).not.toContain('pg_data/base/2/30000');
    expect(seen).toContain('pg_data/base/3/30001');
  });

  it('lists a large directory in sorted order', async () => {
    const root = await createTempDir({ owner: 'root', label: 'datadir' });
    const pgData = join(root, 'data');
    await file(join(pgData, 'PG_VERSION'), '15\n');
    const db = join(pgData, 'base', '5');
    await mkdir(db, { recursive: true });
    const count = 1000;
    // Created in a scrambled order, so that the sorted output is the walk's doing, not the file system's.
    for (let index = 0; index < count; index++) {
      writeFileSync(join(db, String(100000 + ((index * 7919) % count))), '');
    }
    const names = (await collect(pgData)).filter(
      (entry) => entry.type === 'file' && entry.name.startsWith('pg_data/base/5/'),
    );
    expect(names).toHaveLength(count);
    const list = names.map((entry) => entry.name);
    expect(list).toEqual([...list].sort());
  });

  it('keeps a tablespace created inside the data directory out of the ordinary walk', async () => {
    const root = await createTempDir({ owner: 'root', label: 'datadir' });
    const pgData = join(root, 'data');
    await file(join(pgData, 'PG_VERSION'), '15\n');
    await file(join(pgData, 'inside', 'PG_15_202209061', '7', '1234'));
    await mkdir(join(pgData, 'pg_tblspc'));
    await symlink(join(pgData, 'inside'), join(pgData, 'pg_tblspc', '16403'));
    expect(outline(await collect(pgData))).toEqual([
      'path pg_data',
      'file pg_data/PG_VERSION',
      'path pg_data/pg_tblspc',
      `link pg_data/pg_tblspc/16403 -> ${join(pgData, 'inside')}`,
      'path pg_tblspc/16403',
      'path pg_tblspc/16403/PG_15_202209061',
      'path pg_tblspc/16403/PG_15_202209061/7',
      'file pg_tblspc/16403/PG_15_202209061/7/1234',
    ]);
    // A location given by PostgreSQL's tablespace list is kept out even when its link is gone already.
    await rm(join(pgData, 'pg_tblspc', '16403'));
    const entries = await collect(pgData, {
      pgVersion: '15',
      tablespaces: [{ oid: 16403, location: join(pgData, 'inside') }],
    });
    expect(outline(entries)).toEqual(['path pg_data', 'file pg_data/PG_VERSION', 'path pg_data/pg_tblspc']);
  });

  it('picks the version directory of this cluster in a tablespace', async () => {
    const root = await createTempDir({ owner: 'root', label: 'datadir' });
    const pgData = join(root, 'data');
    await file(join(pgData, 'PG_VERSION'), '15\n');
    await mkdir(join(pgData, 'pg_tblspc'));
    const ts = join(root, 'ts');
    await symlink(ts, join(pgData, 'pg_tblspc', '16400'));
    // A development catalog version not in the table: the only PG_15_* directory is ours.
    await file(join(ts, 'PG_15_202299999', '5', '1'));
    await file(join(ts, 'PG_16_202307071', '5', '1'));
    const names = outline(await collect(pgData)).filter((line) => line.includes('pg_tblspc/16400/'));
    expect(names).toEqual([
      'path pg_tblspc/16400/PG_15_202299999',
      'path pg_tblspc/16400/PG_15_202299999/5',
      'file pg_tblspc/16400/PG_15_202299999/5/1',
    ]);
    await file(join(ts, 'PG_15_202299998', '5', '1'));
    await expectError(collect(pgData), {
      kind: 'fileInvalid',
      message: /several version directories for PostgreSQL 15: 'PG_15_202299998', 'PG_15_202299999'/,
    });
  });

  it('refuses links it cannot copy faithfully', async () => {
    const root = await createTempDir({ owner: 'root', label: 'datadir' });
    const pgData = join(root, 'data');
    await file(join(pgData, 'PG_VERSION'), '15\n');
    await file(join(pgData, 'real', 'a'));

    await symlink(join(pgData, 'real'), join(pgData, 'alias'));
    await expectError(collect(pgData), {
      kind: 'linkDestination',
      message: /link 'pg_data\/alias' destination '.*\/real' is inside the data directory/,
    });
    await rm(join(pgData, 'alias'));

    await symlink(join(root, 'missing'), join(pgData, 'dangling'));
    await expectError(collect(pgData), {
      kind: 'linkDestination',
      message: /unable to follow link 'pg_data\/dangling' to '.*\/missing'/,
    });
    await rm(join(pgData, 'dangling'));

    await mkdir(join(root, 'loop'));
    await symlink(join(root, 'loop'), join(root, 'loop', 'again'));
    await symlink(join(root, 'loop'), join(pgData, 'loop'));
    await expectError(collect(pgData), { kind: 'linkDestination', message: /link cycle/ });
  });

  it('checks the data directory and its PG_VERSION', async () => {
    const root = await createTempDir({ owner: 'root', label: 'datadir' });
    await expectError(collect(join(root, 'nothing')), {
      kind: 'pathMissing',
      message: /unable to open data directory '.*\/nothing'/,
    });
    await expectError(collect(root), { kind: 'fileMissing', message: /PG_VERSION/ });
    await writeFile(join(root, 'PG_VERSION'), '14\n');
    await expectError(collect(root), { kind: 'dbMismatch', message: /is PostgreSQL '14', expected '15'/ });
  });

  it('refuses a file name that is not valid UTF-8 rather than skip it', async () => {
    const root = await createTempDir({ owner: 'root', label: 'datadir' });
    await writeFile(join(root, 'PG_VERSION'), '15\n');
    await writeFile(Buffer.concat([Buffer.from(`${root}/bad`), Buffer.from([0xff, 0xfe])]), 'x');
    await expectError(collect(root), { kind: 'featureNotSupported', message: /not valid UTF-8/ });
  });
});

describe('isRelationFile', () => {
  it('recognises relation segments and forks, in the data directory and in tablespaces', () => {
    expect(isRelationFile('pg_data/base/5/16384.2')).toEqual({ segmentNo: 2 });
    expect(isRelationFile('pg_data/base/5/16384')).toEqual({ segmentNo: 0 });
    expect(isRelationFile('base/5/16384')).toEqual({ segmentNo: 0 });
    expect(isRelationFile('pg_data/global/1262')).toEqual({ segmentNo: 0 });
    expect(isRelationFile('global/1262')).toEqual({ segmentNo: 0 });
    expect(isRelationFile('pg_data/base/5/16384_fsm')).toEqual({ segmentNo: 0 });
    expect(isRelationFile('pg_data/base/5/16384_vm.1')).toEqual({ segmentNo: 1 });
    expect(isRelationFile('pg_data/base/5/16384_init')).toEqual({ segmentNo: 0 });
    expect(isRelationFile('pg_tblspc/16385/PG_15_202209061/16384/16386')).toEqual({ segmentNo: 0 });
    expect(isRelationFile('pg_tblspc/16385/PG_15_202209061/16384/16386.12')).toEqual({ segmentNo: 12 });
    expect(isRelationFile('pg_data/pg_tblspc/16385/PG_15_202209061/16384/16386')).toEqual({ segmentNo: 0 });
  });

  it('rejects everything else', () => {
    for (const name of [
      'pg_data/base/5/pg_filenode.map',
      'pg_data/base/5/PG_VERSION',
      'pg_data/base/5/pg_internal.init',
      'pg_data/global/pg_control',
      'pg_data/global/pg_filenode.map',
      'pg_data/base/5/t3_16384',
      'pg_data/base/5/16384_xyz',
      'pg_data/base/5/16384.',
      'pg_data/base/5/016384',
      'pg_data/pg_xact/0000',
      'pg_data/pg_wal/000000010000000000000001',
      'pg_data/base/16384',
      'pg_data/16384',
      'pg_tblspc/16385/PG_15_202209061/16384',
      'pg_tblspc/16385/16384/16386',
    ]) {
      expect(isRelationFile(name), name).toBeUndefined();
    }
  });
});

describe('listDataDir on a real PostgreSQL 15 cluster', () => {
  let cluster: PgCluster;
  let tablespaceDir: string;

  beforeAll(async () => {
    cluster = await PgCluster.create();
    await cluster.start();
    tablespaceDir = await createTempDir({ label: 'ts' });
    await cluster.psql(`create tablespace ts1 location '${tablespaceDir}'`);
    await cluster.psql(
      'create table logged (i int); insert into logged select generate_series(1, 1000);' +
        'create unlogged table nolog (i int); insert into nolog select generate_series(1, 1000);' +
        'create unlogged table nolog_ts (i int) tablespace ts1; insert into nolog_ts values (1);' +
        'create table in_ts (i int) tablespace ts1; insert into in_ts values (1); vacuum;',
    );
  });

  afterAll(async () => {
    await cluster.destroy();
  });

  it('lists the same files as pg_basebackup sends, and only the init fork of unlogged tables', async () => {
    const target = await createTempDir({ label: 'bb' });
    await cluster.runTool('pg_basebackup', ['-D', target, '-Ft', '-X', 'none', '-c', 'fast', '--no-sync']);
    const manifest = JSON.parse(await readFile(join(target, 'backup_manifest'), 'utf8')) as {
      Files: { Path: string }[];
    };
    // backup_label and tablespace_map are written by the backup itself from pg_backup_stop's answer, not copied.
    const theirs = manifest.Files.map((entry) => entry.Path).filter(
      (path) => path !== 'backup_label' && path !== 'tablespace_map',
    );

    const ours = (await collect(cluster.dataDir))
      .filter((entry) => entry.type === 'file')
      .map((entry) => (entry.name.startsWith('pg_data/') ? entry.name.slice('pg_data/'.length) : entry.name));
    expect(ours.sort()).toEqual(theirs.sort());

    const [logged, nolog, nologTs, inTs] = (
      await cluster.psql(
        "select pg_relation_filepath(c) from unnest(array['logged', 'nolog', 'nolog_ts', 'in_ts']::regclass[]) as c",
      )
    ).split('\n');
    expect(ours).toContain(logged);
    expect(ours).not.toContain(nolog);
    expect(ours).toContain(`${String(nolog)}_init`);
    // pg_relation_filepath names tablespace files just as the manifest does: pg_tblspc/<oid>/PG_15_.../...
    expect(ours).not.toContain(nologTs);
    expect(ours).toContain(`${String(nologTs)}_init`);
    expect(ours).toContain(inTs);
    expect(isRelationFile(String(inTs))).toEqual({ segmentNo: 0 });
  });
});
