// End to end on real PostgreSQL 15 with the repository in each object store (S3 on versitygw, Azure Blob on Azurite,
// GCS on fake-gcs-server), encrypted and not: stanza-create, archive_command, a full then an incr backup, info,
// restore, start (WAL from the store via restore_command) and the data compared; then expire removes the older
// backups' objects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  azurite,
  fakeGcs,
  s3Versitygw,
  type OpenStore,
  type StoreUnderTest,
} from '../harness/object-stores.js';
import { RestoreBench } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { switchWal, waitArchived } from '../harness/wal.js';

const LABEL = /backup (\S+) complete/;

const CASES: { store: StoreUnderTest; encrypted: boolean }[] = [
  { store: s3Versitygw, encrypted: false },
  { store: azurite, encrypted: false },
  { store: azurite, encrypted: true },
  { store: fakeGcs('token'), encrypted: false },
  { store: fakeGcs('service'), encrypted: true },
];

for (const { store, encrypted } of CASES) {
  describe.skipIf(!store.available())(
    `a cluster backed up to ${store.title}, encrypted: ${encrypted}, and restored`,
    () => {
      let open: OpenStore;
      let setup: StanzaSetup;
      let restores: RestoreBench;

      beforeAll(async () => {
        open = await store.open('backup-restore');
        setup = await createStanzaSetup({
          ...(encrypted ? { cipherPass: 'object-store-test-passphrase' } : {}),
          global: { ...open.repoOptions, 'repo1-retention-full': '2' },
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

        await cluster.psql(
          `update items set body = 'changed' where id % 10 = 0;
           insert into items select g, md5(g::text) from generate_series(20001, 30000) g;`,
        );
        const incr = await setup.pgstashOk(['backup', '--start-fast', '--type=incr']);
        expect(LABEL.exec(incr.stdout)?.[1]).toMatch(new RegExp(`^${fullLabel}_.*I$`));

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
