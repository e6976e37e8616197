// Bundling (repo1-bundle=y) on real PostgreSQL 15: small files go into tar bundles that `tar -x` and the compressor's
// own tool open by hand; a full and an incr referring to a bundled file of the full restore (also --delta) and start;
// a bundle limit above the bundle size is refused; verify names a damaged member and its bundle; on S3 (versitygw,
// encrypted) a full backup of a fresh cluster makes fewer than 50 write requests, and a restore reads a batch's
// members of a bundle in one ranged GET.
import { createHash } from 'node:crypto';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeBackup } from '../harness/backups.js';
import type { PgCluster } from '../harness/cluster.js';
import { exec } from '../harness/exec.js';
import { repoOptions } from '../harness/repository.js';
import { RestoreBench } from '../harness/restore.js';
import { startCountedS3, type CountedS3Setup } from '../harness/s3-counted.js';
import { s3ServerAvailable } from '../harness/s3-server.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { createTempDir, removeTempDir } from '../harness/tmp.js';
import type { Manifest, ManifestFile } from '../../src/repo/manifest.js';
import { Repository } from '../../src/repo/repository.js';

/** An order-independent digest of a table's rows. */
function tableSum(cluster: PgCluster, table: string): Promise<string> {
  return cluster.psql(`select md5(coalesce(string_agg(t::text, ',' order by t::text), '')) from ${table} t`);
}

/** Restores `label` (pg_verifybackup checks it), starts it and returns the checksums of `tables`. */
async function restoreAndSum(
  restores: RestoreBench,
  label: string,
  tables: readonly string[],
  dataDir?: string,
): Promise<{ sums: string[]; dataDir: string }> {
  const restored = await restores.restore(
    [`--set=${label}`, '--type=immediate', '--target-action=promote', '--process-max=2'],
    dataDir === undefined ? {} : { dataDir },
  );
  const server = await restores.start(restored.dataDir);
  await server.waitForRecoveryEnd();
  const sums: string[] = [];
  for (const table of tables) sums.push(await tableSum(server, table));
  await restores.stopServers();
  return { sums, dataDir: restored.dataDir };
}

const TABLES = ['small_a', 'small_b'];

describe('bundles in a posix repository (zst)', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let repo: Repository;
  let full: Manifest;
  let incr: Manifest;
  let sums: string[];
  let scratch: string;

  beforeAll(async () => {
    setup = await createStanzaSetup({ compressType: 'zst', global: { 'repo1-bundle': 'y' } });
    restores = new RestoreBench(setup);
    scratch = await createTempDir({ label: 'bundle-scratch' });
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql(
      `create table small_a (id int, v text);
       insert into small_a select g, md5(g::text) from generate_series(1, 2000) g;
       create table small_b (id int, v text);
       insert into small_b select g, md5(g::text) from generate_series(1, 500) g;`,
    );
    repo = await Repository.open(repoOptions(setup.repoPath), setup.stanza);
    full = await repo.backups.manifest(await takeBackup(setup));
    await setup.cluster.psql('insert into small_b select g, md5(g::text) from generate_series(501, 900) g');
    incr = await repo.backups.manifest(await takeBackup(setup, ['--type=incr']));
    sums = [];
    for (const table of TABLES) sums.push(await tableSum(setup.cluster, table));
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
    if (scratch !== undefined) await removeTempDir(scratch);
  });

  it('stores the small files in a few bundles, which tar -x and zstd -d open by hand', async () => {
    const bundled = full.files.filter((file) => file.stored.bundle !== undefined);
    expect(bundled.length).toBeGreaterThan(500);
    const dir = join(setup.repoPath, 'backup', setup.stanza, full.backup.label);
    const bundles = await readdir(join(dir, 'bundle'));
    expect(bundles.length).toBeGreaterThan(0);
    expect(bundles.length).toBeLessThan(5);
    expect(bundles.every((name) => /^\d+\.tar$/.test(name))).toBe(true);
    // No object of its own for a bundled file.
    const own = await readdir(join(dir, 'pg_data'), { recursive: true });
    for (const file of bundled.slice(0, 50))
      expect(own.includes(`${file.name.slice('pg_data/'.length)}.zst`)).toBe(false);

    const sample = bundled.find((file) => file.name.endsWith('/global/1262')) ?? (bundled[0] as ManifestFile);
    const bundlePath = join(dir, 'bundle', `${sample.stored.bundle?.id}.tar`);
    const listing = await exec('tar', ['-tf', bundlePath]);
    expect(listing.code).toBe(0);
    expect(listing.stdout.split('\n')).toContain(`${sample.name}.zst`);
    expect((await exec('tar', ['-xf', bundlePath, '-C', scratch])).code).toBe(0);
    const decompressed = join(scratch, 'restored-by-hand');
    expect(
      (await exec('zstd', ['-q', '-d', join(scratch, `${sample.name}.zst`), '-o', decompressed])).code,
    ).toBe(0);
    const sha256 = createHash('sha256')
      .update(await readFile(decompressed))
      .digest('hex');
    expect(sha256).toBe(sample.sha256);
  });

  it('an incr refers to the bundled files of the full it did not copy again', () => {
    const referred = incr.files.filter(
      (file) => file.stored.bundle !== undefined && file.stored.holder === full.backup.label,
    );
    expect(referred.length).toBeGreaterThan(100);
    expect(incr.backup.references).toEqual([full.backup.label]);
  });

  it('expire, then restore of the incr (and --delta over a changed file) gives the data back', async () => {
    await setup.pgstashOk(['expire', '--repo1-retention-full=1']);
    const first = await restoreAndSum(restores, incr.backup.label, TABLES);
    expect(first.sums).toEqual(sums);
    // Damage a bundled file in place: --delta reads its member back by range.
    const target = incr.files.find(
      (file) => file.stored.bundle !== undefined && file.size > 8192 && file.name.includes('/base/'),
    ) as ManifestFile;
    const handle = await open(join(first.dataDir, target.name.slice('pg_data/'.length)), 'r+');
    await handle.write(Buffer.alloc(100, 0xaa), 0, 100, 4000);
    await handle.close();
    const delta = await setup.pgstashOk([
      'restore',
      '--delta',
      `--pg1-path=${first.dataDir}`,
      `--set=${incr.backup.label}`,
      '--type=immediate',
      '--target-action=promote',
    ]);
    expect(delta.stdout).toMatch(/delta: \d+ files kept \(\d+ bytes\), [1-9]\d* written/);
    const server = await restores.start(first.dataDir);
    await server.waitForRecoveryEnd();
    for (const [index, table] of TABLES.entries()) expect(await tableSum(server, table)).toBe(sums[index]);
    await restores.stopServers();
  });

  it('refuses repo1-bundle-limit larger than repo1-bundle-size before the backup starts (32, one line)', async () => {
    const before = await readdir(join(setup.repoPath, 'backup', setup.stanza));
    const result = await setup.pgstash([
      'backup',
      '--type=full',
      '--repo1-bundle',
      '--repo1-bundle-size=1MiB',
      '--repo1-bundle-limit=4MiB',
    ]);
    expect(result.code).toBe(32);
    const errors = result.stderr
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');
    expect(errors).toEqual([
      'ERROR: [032]: repo1-bundle-limit (4MiB) is larger than repo1-bundle-size (1MiB): lower the limit or raise the size',
    ]);
    expect(await readdir(join(setup.repoPath, 'backup', setup.stanza))).toEqual(before);
  });

  it('verify passes, then names the damaged member and its bundle after a flipped byte', async () => {
    expect((await setup.pgstash(['verify'])).code).toBe(0);
    const target = full.files.find(
      (file) => file.stored.bundle !== undefined && file.stored.size > 100,
    ) as ManifestFile;
    const bundlePath = join(
      setup.repoPath,
      'backup',
      setup.stanza,
      full.backup.label,
      'bundle',
      `${target.stored.bundle?.id}.tar`,
    );
    const at = (target.stored.bundle?.offset ?? 0) + Math.floor(target.stored.size / 2);
    const handle = await open(bundlePath, 'r+');
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await handle.write(byte, 0, 1, at);
    await handle.close();
    const result = await setup.pgstash(['verify']);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain(
      `bundle/${target.stored.bundle?.id}.tar/${target.name}.zst`,
    );
  });
});

describe.skipIf(!s3ServerAvailable('versitygw'))('bundles on S3 (versitygw, encrypted, lz4)', () => {
  let s3: CountedS3Setup;
  let setup: StanzaSetup;
  let restores: RestoreBench;

  beforeAll(async () => {
    s3 = await startCountedS3('bundle', {
      stanza: { compressType: 'lz4', cipherPass: 'bundle-pass', global: { 'repo1-bundle': 'y' } },
    });
    setup = s3.setup;
    restores = new RestoreBench(setup);
    await setup.cluster.psql(
      `create table small_a (id int, v text);
       insert into small_a select g, md5(g::text) from generate_series(1, 2000) g;
       create table small_b (id int, v text);`,
    );
  });

  afterAll(async () => {
    await restores?.cleanup();
    await s3?.destroy();
  });

  it('a full of a fresh cluster makes fewer than 50 write requests; full + incr restore and start', async () => {
    const { counter, archiver, env } = s3;
    counter.resetCounts();
    const backup = await setup.pgstashOk(['backup', '--type=full', '--start-fast'], { env });
    const counts = counter.counts();
    process.stderr.write(`bundled full backup on S3, requests by kind: ${JSON.stringify(counts)}\n`);
    expect(backup.code).toBe(0);
    expect(counts['put'] ?? 0).toBeLessThan(50);
    await setup.cluster.psql('insert into small_b select g, md5(g::text) from generate_series(1, 300) g');
    const incr = await takeBackup(setup, ['--type=incr']);
    const expected = [await tableSum(setup.cluster, 'small_a'), await tableSum(setup.cluster, 'small_b')];
    // The restore goes through the archiver's proxy (the config file's endpoint): its GETs are counted there.
    archiver.resetCounts();
    const { sums } = await restoreAndSum(restores, incr, TABLES);
    expect(sums).toEqual(expected);
    const gets = archiver.requests.filter((r) => r.kind === 'get' && r.url.includes('/bundle/')).length;
    process.stderr.write(
      `bundled restore on S3: ${gets} GETs of bundles, requests by kind: ${JSON.stringify(archiver.counts())}\n`,
    );
    // About 800 bundled files: each bundle is one job read forward by one GET (3 here), not a GET per member (about
    // 800) nor one per batch of members (23 with batches of up to 2 MiB).
    expect(gets).toBeLessThan(6);
  });

  it('verify decodes every file, then reads the files it proved as stored, both sound, on S3', async () => {
    type Verified = { status: string; repos: { files: { read: number; 'as-stored': number } }[] };
    const verify = async (): Promise<Verified['repos'][number]['files']> => {
      const result = await setup.pgstashOk(['verify', '--output=json']);
      const report = JSON.parse(result.stdout) as Verified;
      expect(report.status).toBe('ok');
      return (report.repos[0] as Verified['repos'][number]).files;
    };
    const first = await verify();
    expect(first.read).toBeGreaterThan(100);
    expect(first['as-stored']).toBe(0);
    const second = await verify();
    // Every backup file the first verify decoded is read as stored (ranged reads of bundle members included).
    expect(second['as-stored']).toBeGreaterThan(100);
  });
});
