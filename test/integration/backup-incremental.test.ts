// diff and incr backups end to end on real PostgreSQL 15: a chain full -> incr -> incr -> diff -> incr with writes
// between each (inserts, updates, deletes, a new, a dropped, a truncated and a vacuumed table), compress-type changed
// at every step (none, lz4, zst), plain and encrypted; each backup restored, started and compared with a pg_dumpall
// taken at its backup time. Also: what an incr stores (only changed files, every reference to the holder itself),
// --delta against mtimes, info, and a restore refused when a holder was removed by hand.
import { createHash } from 'node:crypto';
import { chown, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgCluster } from '../harness/cluster.js';
import { postgresIds } from '../harness/postgres-user.js';
import { RestoreBench } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';

const LABEL = /backup (\d{8}-\d{6}F(?:_\d{8}-\d{6}[DI])?) complete/;

interface Step {
  readonly type: 'full' | 'diff' | 'incr';
  readonly compress: 'none' | 'lz4' | 'zst';
  /** The writes before this step's backup. */
  readonly writes: string;
}

/** Writes of every kind between backups: a chain must restore each state exactly. */
const STEPS: readonly Step[] = [
  {
    // No full exists yet: the diff becomes a full (with a warning).
    type: 'diff',
    compress: 'zst',
    writes: `create table t_ins (id int primary key, v text);
      insert into t_ins select g, md5(g::text) from generate_series(1, 20000) g;
      create table t_upd (id int primary key, v int);
      insert into t_upd select g, 0 from generate_series(1, 20000) g;
      create table t_del as select g id, repeat('x', 50) v from generate_series(1, 20000) g;
      create table t_drop as select g id from generate_series(1, 5000) g;
      create table t_trunc as select g id from generate_series(1, 5000) g;
      create table t_vac as select g id, md5(g::text) v from generate_series(1, 20000) g;
      create table t_still as select g id from generate_series(1, 50000) g;`,
  },
  {
    type: 'incr',
    compress: 'lz4',
    writes: `insert into t_ins select g, md5(g::text) from generate_series(20001, 25000) g;
      update t_upd set v = v + 1 where id % 10 = 0;
      delete from t_del where id % 3 = 0;`,
  },
  {
    type: 'incr',
    compress: 'none',
    writes: `create table t_new as select g id, md5(g::text) v from generate_series(1, 3000) g;
      drop table t_drop;
      truncate t_trunc;`,
  },
  {
    type: 'diff',
    compress: 'zst',
    writes: `delete from t_vac where id % 2 = 0;
      vacuum t_vac;
      update t_upd set v = v + 1 where id % 7 = 0;
      insert into t_trunc select g from generate_series(1, 100) g;`,
  },
  {
    type: 'incr',
    compress: 'lz4',
    writes: `insert into t_new select g, 'later' from generate_series(3001, 4000) g;
      delete from t_ins where id > 24000;
      vacuum full t_del;`,
  },
];

interface Taken {
  readonly label: string;
  readonly type: string;
  readonly dump: string;
  readonly stderr: string;
}

/** pg_dumpall of a running cluster as text (a fixed \restrict key: by default each dump gets a random one). */
async function dumpAll(cluster: PgCluster, dir: string, name: string): Promise<string> {
  const file = join(dir, name);
  await cluster.runTool('pg_dumpall', ['--restrict-key=pgstash', '-f', file]);
  return readFile(file, 'utf8');
}

interface ManifestFileJson {
  name: string;
  size: number;
  mtime: number;
  sha256: string;
  /** empty: recorded in the manifest only, always by the backup that listed it (no repository object). */
  stored: { holder: string; compressType: string; size: number; empty?: true };
}
interface ManifestJson {
  backup: { label: string; type: string; prior?: string; references: string[] };
  files: ManifestFileJson[];
}

/** A backup's manifest as stored (an unencrypted repository only). */
async function readManifest(setup: StanzaSetup, label: string): Promise<ManifestJson> {
  const path = join(setup.repoPath, 'backup', setup.stanza, label, 'backup.manifest');
  return (JSON.parse(await readFile(path, 'utf8')) as { content: ManifestJson }).content;
}

/** Takes the chain: writes, a checkpoint, a dump of that state, then the backup. */
async function takeChain(setup: StanzaSetup, dumps: string): Promise<Taken[]> {
  const taken: Taken[] = [];
  for (const [index, step] of STEPS.entries()) {
    await setup.cluster.psql(step.writes);
    await setup.cluster.psql('checkpoint');
    const dump = await dumpAll(setup.cluster, dumps, `step-${index}.sql`);
    const result = await setup.pgstashOk([
      'backup',
      '--start-fast',
      `--type=${step.type}`,
      `--compress-type=${step.compress}`,
    ]);
    const label = LABEL.exec(result.stdout)?.[1];
    expect(label, result.stdout + result.stderr).toBeDefined();
    taken.push({ label: label ?? '', type: step.type, dump, stderr: result.stderr });
  }
  return taken;
}

/** Restores each backup of the chain (--set, to its consistency point), starts it and compares its dump. */
async function restoreEach(restores: RestoreBench, taken: readonly Taken[]): Promise<void> {
  const dumps = await restores.tempDir('restored-dumps');
  for (const backup of taken) {
    const { dataDir, result } = await restores.restore([
      `--set=${backup.label}`,
      '--type=immediate',
      '--target-action=promote',
      '--process-max=2',
    ]);
    expect(result.stdout).toContain(`restored backup set ${backup.label}`);
    const restored = await restores.start(dataDir);
    await restored.waitForRecoveryEnd();
    const dump = await dumpAll(restored, dumps, `${backup.label}.sql`);
    expect(dump === backup.dump, `restore of ${backup.label} differs from its state at backup time`).toBe(
      true,
    );
    await restores.stopServers();
  }
}

describe('a chain full -> incr -> incr -> diff -> incr, compress-type changed at each step', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let taken: Taken[];

  beforeAll(async () => {
    setup = await createStanzaSetup({ walSegmentSizeMb: 1 });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    taken = await takeChain(setup, await restores.tempDir('dumps'));
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  it('a diff with no full becomes a full and says why', () => {
    const [first] = taken;
    expect(first?.label).toMatch(/^\d{8}-\d{6}F$/);
    expect(first?.stderr).toContain('WARN: no prior backup exists: diff backup has been changed to full');
  });

  it('builds each on the right prior; an incr stores only what changed, every reference to the backup holding it', async () => {
    const labels = taken.map((backup) => backup.label);
    const [full, incr1, incr2, diff, incr3] = labels as [string, string, string, string, string];
    const manifests = await Promise.all(labels.map((label) => readManifest(setup, label)));
    expect(manifests.map((manifest) => manifest.backup.type)).toEqual([
      'full',
      'incr',
      'incr',
      'diff',
      'incr',
    ]);
    expect(manifests.map((manifest) => manifest.backup.prior)).toEqual([undefined, full, incr1, full, diff]);
    for (const label of labels.slice(1)) expect(label.startsWith(`${full}_`)).toBe(true);

    const byLabel = new Map(manifests.map((manifest) => [manifest.backup.label, manifest]));
    for (const manifest of manifests) {
      const label = manifest.backup.label;
      const own = manifest.files.filter((file) => file.stored.holder === label);
      const held = manifest.files.filter((file) => file.stored.holder !== label);
      // References: exactly the holders, each a backup that holds the file itself (never a chain).
      expect([...manifest.backup.references].sort()).toEqual(
        [...new Set(held.map((file) => file.stored.holder))].sort(),
      );
      for (const file of held) {
        const holderEntry = byLabel.get(file.stored.holder)?.files.find((entry) => entry.name === file.name);
        expect(holderEntry?.stored, `${label}: ${file.name}`).toEqual(file.stored);
        expect(holderEntry?.sha256).toBe(file.sha256);
      }
      // The files of the backup's own directory are exactly the ones it holds.
      const dir = join(setup.repoPath, 'backup', setup.stanza, label);
      const stored = (await readdir(dir, { recursive: true }))
        .filter((name) => name.startsWith('pg_data/'))
        .map((name) => name.replace(/\.(lz4|zst)$/, ''));
      const onDisk = new Set(stored);
      // An empty file is recorded in the manifest only: no repository object.
      for (const file of own)
        expect(onDisk.has(file.name), `${label}: ${file.name}`).toBe(file.stored.empty !== true);
      for (const file of held) expect(onDisk.has(file.name), `${label}: ${file.name}`).toBe(false);
      if (label === full) expect(held).toEqual([]);
      else {
        // A few relations changed between steps; the catalog, most of the cluster and t_still did not.
        const copied = own.filter((file) => file.stored.empty !== true).length;
        expect(copied, `${label} copied ${copied} of ${manifest.files.length}`).toBeLessThan(
          manifest.files.length / 5,
        );
      }
    }
    // A reference keeps its holder's compression: the incr taken with none still reads zst and lz4 files.
    const compressions = new Set(byLabel.get(incr2)!.files.map((file) => file.stored.compressType));
    expect(compressions).toEqual(new Set(['zst', 'lz4', 'none']));
    expect(byLabel.get(incr3)!.backup.references).toEqual([full, diff]);
    expect(byLabel.get(incr2)!.backup.references).toEqual([full, incr1]);
    // The diff references only the full: what incr1 and incr2 copied, it copied again.
    expect(byLabel.get(diff)!.backup.references).toEqual([full]);
  });

  it('info shows type, prior, bytes added against the whole, and with --set the backups it depends on', async () => {
    const json = JSON.parse((await setup.pgstashOk(['info', '--output=json'])).stdout) as [
      {
        backup: {
          label: string;
          type: string;
          prior: string | null;
          reference: string[];
          info: { size: number; delta: number; repository: { size: number; delta: number } };
        }[];
      },
    ];
    const backups = json[0].backup;
    expect(backups.map((backup) => backup.label)).toEqual(taken.map((backup) => backup.label));
    const [full, ...rest] = backups;
    expect(full?.info.delta).toBe(full?.info.size);
    expect(full?.info.repository.delta).toBe(full?.info.repository.size);
    expect(full?.reference).toEqual([]);
    for (const backup of rest) {
      expect(backup.prior).not.toBeNull();
      // Whole files are copied (no block incremental): a changed table, its indexes and the catalog pages a
      // checkpoint rewrote (hint bits) are copied again; the rest of the cluster is not.
      expect(
        backup.info.delta,
        `${backup.label} added ${backup.info.delta} of ${backup.info.size}`,
      ).toBeLessThan(backup.info.size / 2);
      expect(backup.info.repository.delta).toBeLessThan(backup.info.repository.size);
      expect(backup.reference.length).toBeGreaterThan(0);
    }
    const last = taken.at(-1)!.label;
    const text = (await setup.pgstashOk(['info', `--set=${last}`])).stdout;
    expect(text).toContain(`incr backup: ${last}`);
    expect(text).toContain(`prior backup: ${taken[3]!.label}`);
    expect(text).toContain(`backup reference list: ${taken[0]!.label}, ${taken[3]!.label}`);
    expect(text).toMatch(/database size: \S+, database backup size: \S+, files: \d+/);
  });

  it('restores each backup of the chain exactly', async () => {
    await restoreEach(restores, taken);
  });

  it('--delta trusts content, not mtimes: a touched file is referenced, a changed one with its mtime reset is copied', async () => {
    const file = join(setup.cluster.dataDir, 'pgstash_delta_probe.conf');
    const name = 'pg_data/pgstash_delta_probe.conf';
    const { uid, gid } = postgresIds();
    await writeFile(file, 'a'.repeat(10000));
    await chown(file, uid, gid);
    const old = new Date(Date.now() - 3600_000);
    await utimes(file, old, old);
    const backup = async (args: string[]): Promise<{ label: string; entry: ManifestFileJson }> => {
      const result = await setup.pgstashOk(['backup', '--start-fast', '--type=incr', ...args]);
      const label = LABEL.exec(result.stdout)?.[1] ?? '';
      const entry = (await readManifest(setup, label)).files.find((candidate) => candidate.name === name);
      return { label, entry: entry! };
    };
    const first = await backup([]);
    expect(first.entry.stored.holder).toBe(first.label);

    // Same content, a new mtime: without delta it is copied again, with delta it stays a reference.
    const touched = new Date(Date.now() - 1800_000);
    await utimes(file, touched, touched);
    const withDelta = await backup(['--delta']);
    expect(withDelta.entry.stored.holder).toBe(first.label);
    expect(withDelta.entry.mtime).toBe(Math.floor(touched.getTime() / 1000));

    // New content of the same size, the mtime put back: only delta sees it.
    await writeFile(file, 'b'.repeat(10000));
    await utimes(file, touched, touched);
    const trusting = await backup([]);
    expect(trusting.entry.stored.holder).toBe(first.label);
    const checked = await backup(['--delta']);
    expect(checked.entry.stored.holder).toBe(checked.label);
    expect(checked.entry.sha256).toBe(createHash('sha256').update('b'.repeat(10000)).digest('hex'));
    await rm(file);
  });

  it('refuses to restore an incr whose holder was removed by hand, naming it, writing nothing', async () => {
    const [full] = taken;
    const last = taken.at(-1)!.label;
    await rm(join(setup.repoPath, 'backup', setup.stanza, full!.label), { recursive: true });
    const dataDir = join(await restores.tempDir('refused'), 'data');
    const result = await setup.pgstash(['restore', `--pg1-path=${dataDir}`, `--set=${last}`]);
    expect(result.code).toBe(75);
    expect(result.stderr).toContain(`backup set ${last} depends on backup ${full!.label}, which is missing`);
    await expect(stat(dataDir)).rejects.toThrow();
  });
});

describe('an encrypted chain, compress-type changed at each step', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  it('restores each backup exactly', async () => {
    setup = await createStanzaSetup({ walSegmentSizeMb: 1, cipherPass: 'a chain of secrets' });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    const taken = await takeChain(setup, await restores.tempDir('dumps'));
    const info = JSON.parse((await setup.pgstashOk(['info', '--output=json'])).stdout) as [
      { backup: { type: string; encrypted: boolean }[] },
    ];
    expect(info[0].backup.map((backup) => backup.type)).toEqual(['full', 'incr', 'incr', 'diff', 'incr']);
    expect(info[0].backup.every((backup) => backup.encrypted)).toBe(true);
    await restoreEach(restores, taken);
  });
});

interface BlockStoredJson {
  blockSize: number;
  parts: { holder: string; originalSize: number }[];
}

describe.each([
  { name: 'plain', cipherPass: undefined },
  { name: 'encrypted', cipherPass: 'blocks of secrets' },
])(
  'the chain with block incremental (repo1-block=y), $name, compress-type changed at each step',
  ({ cipherPass }) => {
    let setup: StanzaSetup;
    let restores: RestoreBench;

    afterAll(async () => {
      await restores?.cleanup();
      await setup?.destroy();
    });

    it('stores changed large files as blocks against the earlier versions and restores each backup exactly', async () => {
      setup = await createStanzaSetup({
        walSegmentSizeMb: 1,
        global: { 'repo1-block': 'y' },
        ...(cipherPass === undefined ? {} : { cipherPass }),
      });
      restores = new RestoreBench(setup);
      await setup.cluster.start();
      await setup.pgstashOk(['stanza-create']);
      const taken = await takeChain(setup, await restores.tempDir('dumps'));
      if (cipherPass === undefined) {
        // Some file of an incr is stored as blocks with a part in an earlier backup; every such holder is referenced.
        let partsElsewhere = 0;
        for (const backup of taken.slice(1)) {
          const manifest = await readManifest(setup, backup.label);
          for (const file of manifest.files) {
            const block = (file.stored as { block?: BlockStoredJson }).block;
            if (block === undefined || file.stored.holder !== backup.label) continue;
            for (const part of block.parts) {
              if (part.holder === backup.label) continue;
              partsElsewhere++;
              expect(manifest.backup.references).toContain(part.holder);
            }
          }
        }
        expect(partsElsewhere).toBeGreaterThan(0);
      }
      await restoreEach(restores, taken);
    });
  },
);
