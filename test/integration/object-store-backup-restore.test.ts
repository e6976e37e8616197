// End to end on real PostgreSQL 15 with the repository in each object store (S3 on versitygw, Azure Blob on Azurite,
// GCS on fake-gcs-server; posix for its bundled and encrypted case), encrypted and not, bundled (repo1-bundle) and
// not, block incremental (repo1-block) on S3 and Azure: stanza-create, archive_command, a full then an incr backup, info, restore, start (WAL from the store via
// restore_command) and the data compared; then expire removes the older backups' objects.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  azurite,
  fakeGcs,
  posixDirectory,
  s3Versitygw,
  type OpenStore,
  type StoreUnderTest,
} from '../harness/object-stores.js';
import { RestoreBench } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { switchWal, waitArchived } from '../harness/wal.js';

const LABEL = /backup (\S+) complete/;

/**
 * Each store runs both settings of each (encrypted and not, bundled and not) in two cases, a cluster each, not all
 * four combinations (each costs a cluster, three backups, a restore and a start). The drivers store bytes and do
 * nothing different for encrypted or bundled data, so Azure and GCS pair the settings diagonally; S3 and posix get
 * the other two combinations elsewhere: bundle.test.ts (S3 encrypted and bundled, posix bundled), empty-files.test.ts
 * (S3 neither, restored and started), backup-restore.test.ts (posix encrypted).
 */
const CASES: { store: StoreUnderTest; encrypted: boolean; bundled: boolean; block?: boolean }[] = [
  { store: s3Versitygw, encrypted: false, bundled: true },
  // Block incremental (repo1-block): the incr's table is read back from the full's and the incr's parts, by ranged
  // reads of each part as the restore needs them.
  { store: s3Versitygw, encrypted: true, bundled: false, block: true },
  { store: azurite, encrypted: false, bundled: false },
  { store: azurite, encrypted: true, bundled: true, block: true },
  { store: fakeGcs('token'), encrypted: false, bundled: true },
  { store: fakeGcs('service'), encrypted: true, bundled: false },
  { store: posixDirectory, encrypted: true, bundled: true },
];

/** Non-empty regular files under `dir` (empty ones are recorded in the manifest only, never stored). */
async function nonEmptyFiles(dir: string): Promise<number> {
  let count = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && (await stat(join(entry.parentPath, entry.name)).catch(() => undefined))?.size)
      count++;
  }
  return count;
}

for (const { store, encrypted, bundled, block = false } of CASES) {
  describe.skipIf(!store.available())(
    `a cluster backed up to ${store.title}, encrypted: ${encrypted}, bundled: ${bundled}, block: ${block}, and restored`,
    () => {
      let open: OpenStore;
      let setup: StanzaSetup;
      let restores: RestoreBench;

      beforeAll(async () => {
        open = await store.open('backup-restore');
        setup = await createStanzaSetup({
          ...(encrypted ? { cipherPass: 'object-store-test-passphrase' } : {}),
          global: {
            ...open.repoOptions,
            'repo1-retention-full': '2',
            ...(bundled ? { 'repo1-bundle': 'y' } : {}),
            ...(block ? { 'repo1-block': 'y' } : {}),
          },
        });
        restores = new RestoreBench(setup);
        await setup.cluster.start();
      });

      afterAll(async () => {
        await restores?.cleanup();
        await setup?.destroy();
        await open?.stop();
      });

      it('archives, backs up full then incr, and restores the same data from the store', async () => {
        const { cluster } = setup;
        await setup.pgstashOk(['stanza-create']);
        await setup.pgstashOk(['check']);
        await cluster.psql(
          `create table items (id int primary key, body text);
           insert into items select g, md5(g::text) from generate_series(1, 20000) g;`,
        );
        const full = await setup.pgstashOk(['backup', '--start-fast', '--type=full']);
        const fullLabel = LABEL.exec(full.stdout)?.[1];
        expect(fullLabel).toMatch(/F$/);

        // A few scattered rows changed (a block-stored table then comes back from both backups' parts) and more
        // rows added.
        await cluster.psql(
          `update items set body = 'changed' where id % 1000 = 0;
           insert into items select g, md5(g::text) from generate_series(20001, 30000) g;`,
        );
        const incr = await setup.pgstashOk(['backup', '--start-fast', '--type=incr']);
        const incrLabel = LABEL.exec(incr.stdout)?.[1];
        expect(incrLabel).toMatch(new RegExp(`^${fullLabel}_.*I$`));

        // Written after the incr: only the archive (restore_command, archive-get from the store) brings it back.
        await cluster.psql(`insert into items values (30001, 'after the backup')`);
        await waitArchived(setup, await switchWal(setup));
        const expected = await cluster.psql(
          "select count(*), md5(string_agg(body, ',' order by id)) from items",
        );

        const info = await setup.pgstashOk(['info']);
        expect(info.stdout).toContain('status: ok');
        expect(info.stdout).toContain(open.location);
        expect(info.stdout).toContain(`full backup: ${fullLabel}`);
        expect(info.stdout).toContain('incr backup:');

        // What the store holds is the repository's layout under the prefix.
        const keys = await open.keysUnder('pgstash/');
        expect(keys).toContain(`pgstash/backup/${setup.stanza}/backup.info`);
        expect(keys.some((key) => key.startsWith(`pgstash/archive/${setup.stanza}/15-1/`))).toBe(true);
        // Encrypted: what the store holds is not the cluster's bytes (a manifest is not readable JSON).
        const manifest = keys.find((key) => key.endsWith(`/${fullLabel}/backup.manifest`));
        expect(manifest).toBeDefined();
        const stored = await open.read(manifest ?? '');
        expect(stored.subarray(0, 8).toString('latin1') === 'PGSTENC1').toBe(encrypted);
        // Bundled: a few bundle objects hold the small files, so the full holds far fewer data objects than the
        // cluster has files; not bundled: no bundle, an object per file. Fails when bundling silently does not happen.
        const fullKeys = keys.filter((key) => key.includes(`/${fullLabel}/`));
        const bundles = fullKeys.filter((key) => key.includes(`/${fullLabel}/bundle/`));
        const dataObjects = fullKeys.filter((key) => key.includes(`/${fullLabel}/pg_data/`)).length;
        const files = await nonEmptyFiles(cluster.dataDir);
        process.stderr.write(
          `${store.title}: ${files} non-empty files, full: ${dataObjects} data objects, ${bundles.length} bundles\n`,
        );
        // Block incremental: the incr stored block maps (the items table's among them); without it, none.
        expect(keys.some((key) => key.includes(`/${incrLabel ?? ''}/block-map/`))).toBe(block);
        if (bundled) {
          expect(bundles.length).toBeGreaterThan(0);
          expect(dataObjects * 10).toBeLessThan(files);
        } else {
          expect(bundles).toEqual([]);
          expect(dataObjects).toBeGreaterThan(files / 2);
        }

        const { dataDir } = await restores.restore([]);
        const restored = await restores.start(dataDir);
        await restored.psql('select 1');
        // Recovery ends once the archive has nothing more; then the server is read-write and holds every row.
        for (let i = 0; i < 300; i++) {
          if ((await restored.psql('select pg_is_in_recovery()')) === 'f') break;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        expect(await restored.psql('select pg_is_in_recovery()')).toBe('f');
        expect(
          await restored.psql("select count(*), md5(string_agg(body, ',' order by id)) from items"),
        ).toBe(expected);
      });

      it('expires the older full with its incr: no object of theirs is left in the store', async () => {
        const labelsOf = (stdout: string): string[] =>
          (JSON.parse(stdout) as { backup: { label: string }[] }[])[0]?.backup.map(
            (backup) => backup.label,
          ) ?? [];
        const before = labelsOf((await setup.pgstashOk(['info', '--output=json'])).stdout);
        expect(before).toHaveLength(2);
        await setup.pgstashOk(['backup', '--start-fast', '--type=full']);
        await setup.pgstashOk(['expire', '--repo1-retention-full=1']);
        const after = labelsOf((await setup.pgstashOk(['info', '--output=json'])).stdout);
        expect(after).toHaveLength(1);
        expect(before).not.toContain(after[0]);
        const keys = await open.keysUnder(`pgstash/backup/${setup.stanza}/`);
        for (const label of before) expect(keys.filter((key) => key.includes(`/${label}/`))).toEqual([]);
        expect(keys.some((key) => key.includes(`/${after[0] ?? 'none'}/`))).toBe(true);
      });
    },
  );
}
