// Empty files are recorded in the manifest only (stored.empty, no repository object), on real PostgreSQL 15: a full
// and an incr store no object for them, restore and restore --delta recreate them, the server starts, verify passes;
// on S3 (versitygw) no key is written for them and the requests a backup and a restore save are counted.
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeBackup } from '../harness/backups.js';
import { repoOptions } from '../harness/repository.js';
import { RestoreBench } from '../harness/restore.js';
import { startCountedS3, type CountedS3Setup } from '../harness/s3-counted.js';
import { s3KeysUnder, s3ServerAvailable } from '../harness/s3-server.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { Repository } from '../../src/repo/repository.js';
import type { Manifest } from '../../src/repo/manifest.js';

/** Every regular file under `dir`, as paths relative to it, with its size. */
async function filesUnder(dir: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    found.set(relative(dir, path), (await stat(path)).size);
  }
  return found;
}

/** The relation file of `table` under the data directory, as a path relative to it. */
async function relationPath(setup: { cluster: StanzaSetup['cluster'] }, table: string): Promise<string> {
  return setup.cluster.psql(`select pg_relation_filepath('${table}')`);
}

describe('empty files in a posix repository', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let repo: Repository;
  let full: Manifest;
  let incr: Manifest;

  beforeAll(async () => {
    setup = await createStanzaSetup({ compressType: 'zst', cipherPass: 'empty-files-pass' });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql(
      `create table stays_empty (id int);
       create table filled (id int);
       insert into filled select generate_series(1, 1000);`,
    );
    repo = await Repository.open(
      repoOptions(setup.repoPath, { cipherType: 'aes-256-gcm', cipherPass: 'empty-files-pass' }),
      setup.stanza,
    );
    full = await repo.backups.manifest(await takeBackup(setup));
    await setup.cluster.psql('insert into filled select generate_series(1001, 2000)');
    incr = await repo.backups.manifest(await takeBackup(setup, ['--type=incr']));
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  it('stores no object for an empty file, in a full and in an incr (held by the incr itself)', async () => {
    const empties = full.files.filter((file) => file.size === 0);
    const emptyTable = `pg_data/${await relationPath(setup, 'stays_empty')}`;
    expect(empties.map((file) => file.name)).toContain(emptyTable);
    expect(empties.length).toBeGreaterThan(10);
    for (const file of empties)
      expect(file.stored).toMatchObject({ empty: true, size: 0, holder: full.backup.label });
    // Every object in the full's directory is a non-empty file's (or the manifest and its copies).
    const objects = [
      ...(await filesUnder(join(setup.repoPath, 'backup', setup.stanza, full.backup.label))).keys(),
    ];
    const data = objects.filter((path) => path.startsWith('pg_data/'));
    expect(data.length).toBe(full.files.length - empties.length);
    for (const file of empties) expect(data.some((path) => path.startsWith(`${file.name}.`))).toBe(false);
    // The incr records its empty files itself: no reference to the full for a file of nothing.
    for (const file of incr.files.filter((entry) => entry.size === 0))
      expect(file.stored).toMatchObject({ empty: true, holder: incr.backup.label });
    expect(await setup.pgstash(['verify'])).toMatchObject({ code: 0 });
  });

  it('restores every empty file (mode, mtime), the server starts, and restore --delta empties a filled one', async () => {
    const { dataDir } = await restores.restore(['--type=immediate', '--target-action=promote']);
    for (const file of incr.files.filter((entry) => entry.size === 0)) {
      const path = join(dataDir, file.name.replace(/^pg_data\//, ''));
      const info = await stat(path);
      expect(info.size).toBe(0);
      expect(info.mode & 0o7777).toBe(file.mode);
      expect(Math.floor(info.mtimeMs / 1000)).toBe(file.mtime);
    }
    const emptyTable = await relationPath(setup, 'stays_empty');
    // Something written into an empty file of the backup: --delta must put the empty file back.
    await writeFile(join(dataDir, emptyTable), Buffer.alloc(8192, 7));
    const delta = await setup.pgstashOk([
      'restore',
      '--delta',
      `--pg1-path=${dataDir}`,
      '--type=immediate',
      '--target-action=promote',
    ]);
    expect(delta.code).toBe(0);
    expect((await stat(join(dataDir, emptyTable))).size).toBe(0);
    const server = await restores.start(dataDir);
    await server.waitForRecoveryEnd();
    expect(await server.psql('select count(*) from stays_empty')).toBe('0');
    expect(await server.psql('select count(*) from filled')).toBe('2000');
    await restores.stopServers();
  });
});

describe.skipIf(!s3ServerAvailable('versitygw'))('empty files on S3 (versitygw)', () => {
  let s3: CountedS3Setup;
  let setup: StanzaSetup;
  let restores: RestoreBench;

  beforeAll(async () => {
    s3 = await startCountedS3('empty-files');
    setup = s3.setup;
    restores = new RestoreBench(setup);
  });

  afterAll(async () => {
    await restores?.cleanup();
    await s3?.destroy();
  });

  it('writes no key for an empty file: a PUT saved per empty file on backup, a GET on restore', async () => {
    const { counter, env } = s3;
    counter.resetCounts();
    const backup = await setup.pgstashOk(['backup', '--type=full', '--start-fast'], { env });
    const label = /backup (\d{8}-\d{6}F) complete/.exec(backup.stdout)?.[1] ?? '';
    const dataPuts = counter.requests.filter((r) => r.kind === 'put' && r.url.includes(`/${label}/pg_data/`));
    const keys = (
      await s3KeysUnder(s3.server, s3.bucket, `pgstash/backup/${setup.stanza}/${label}/pg_data/`)
    ).map((key) => key.slice(`pgstash/backup/${setup.stanza}/${label}/`.length));
    expect(dataPuts.length).toBe(keys.length);

    counter.resetCounts();
    const dataDir = join(await restores.tempDir('restore'), 'data');
    await setup.pgstashOk(['restore', `--pg1-path=${dataDir}`, `--set=${label}`], { env });
    const restored = await filesUnder(dataDir);
    const empty = [...restored].filter(([path, size]) => size === 0 && !path.startsWith('pg_wal/'));
    expect(empty.length).toBeGreaterThan(10);
    for (const [path] of empty) expect(keys.some((key) => key.startsWith(`pg_data/${path}.`))).toBe(false);
    const dataGets = counter.requests.filter((r) => r.kind === 'get' && r.url.includes(`/${label}/pg_data/`));
    // Each stored object read (a large one in several ranged GETs), nothing asked for an empty file.
    expect(new Set(dataGets.map((r) => r.url.split('?')[0])).size).toBe(keys.length);
    process.stderr.write(
      `empty files: ${empty.length} (no PUT, no GET); data PUTs ${dataPuts.length}, data GETs ${dataGets.length}\n`,
    );
    const started = await restores.start(dataDir);
    expect(await started.psql('select 1')).toBe('1');
  });
});
