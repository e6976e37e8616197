// End to end on real PostgreSQL 15 with the repository in a GCS bucket (fake-gcs-server): stanza-create,
// archive_command, a full then an incr backup, info, restore, start (WAL from the bucket via restore_command)
// and the data compared; then expire removes the older backups' objects. Unencrypted with an OAuth token,
// encrypted with a service account key file.
import { generateKeyPairSync } from 'node:crypto';
import { chown, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { gcsServerAvailable, startGcsServer, type GcsTestServer } from '../harness/gcs-server.js';
import { postgresIds } from '../harness/postgres-user.js';
import { RestoreBench } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { createTempDir, removeTempDir } from '../harness/tmp.js';
import { switchWal, waitArchived } from '../harness/wal.js';

const LABEL = /backup (\S+) complete/;

describe.skipIf(!gcsServerAvailable()).each([
  { encrypted: false, keyType: 'token' },
  { encrypted: true, keyType: 'service' },
])(
  'a cluster backed up to GCS (fake-gcs-server, encrypted: $encrypted, key: $keyType) and restored',
  ({ encrypted, keyType }) => {
    let server: GcsTestServer;
    let setup: StanzaSetup;
    let restores: RestoreBench;
    let bucket: string;
    let keyDir: string;

    beforeAll(async () => {
      server = await startGcsServer();
      bucket = await server.createBucket('backup-restore');
      keyDir = await createTempDir({ owner: 'postgres', label: 'gcs-key' });
      let key = 'pgstash-test-token';
      if (keyType === 'service') {
        // archive_command runs as postgres: the key file is the postgres user's, readable by it alone.
        key = join(keyDir, 'service.json');
        const { privateKey } = generateKeyPairSync('rsa', {
          modulusLength: 2048,
          privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
          publicKeyEncoding: { type: 'spki', format: 'pem' },
        });
        await writeFile(
          key,
          JSON.stringify({
            type: 'service_account',
            private_key: privateKey,
            client_email: 'pgstash@pgstash-test.iam.gserviceaccount.com',
          }),
          { mode: 0o600 },
        );
        const { uid, gid } = postgresIds();
        await chown(key, uid, gid);
      }
      setup = await createStanzaSetup({
        ...(encrypted ? { cipherPass: 'gcs-test-passphrase' } : {}),
        global: {
          'repo1-type': 'gcs',
          'repo1-path': '/pgstash',
          'repo1-gcs-bucket': bucket,
          'repo1-gcs-endpoint': server.endpoint,
          'repo1-gcs-key-type': keyType,
          'repo1-gcs-key': key,
          'repo1-retention-full': '2',
        },
      });
      restores = new RestoreBench(setup);
      await setup.cluster.start();
    });

    afterAll(async () => {
      await restores?.cleanup();
      await setup?.destroy();
      await server?.stop();
      if (keyDir !== undefined) await removeTempDir(keyDir);
    });

    it('archives, backs up full then incr, and restores the same data from the bucket', async () => {
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

      // Written after the incr: only the archive (restore_command, archive-get from the bucket) brings it back.
      await cluster.psql(`insert into items values (30001, 'after the backup')`);
      await waitArchived(setup, await switchWal(setup));
      const expected = await cluster.psql(
        "select count(*), md5(string_agg(body, ',' order by id)) from items",
      );

      const info = await setup.pgstashOk(['info']);
      expect(info.stdout).toContain('status: ok');
      expect(info.stdout).toContain(`gs://${bucket}/pgstash`);
      expect(info.stdout).toContain(`full backup: ${fullLabel}`);
      expect(info.stdout).toContain('incr backup:');

      // Encrypted: what the bucket holds is not the cluster's bytes (a manifest is not readable JSON).
      const names = await server.objectNames(bucket, `pgstash/backup/${setup.stanza}/${fullLabel}/`);
      const manifest = names.find((name) => name.endsWith('/backup.manifest'));
      expect(manifest).toBeDefined();
      const stored = await fetch(
        `${server.endpoint}/storage/v1/b/${bucket}/o/${encodeURIComponent(manifest ?? '')}?alt=media`,
      ).then(async (response) => Buffer.from(await response.arrayBuffer()));
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
      expect(await restored.psql("select count(*), md5(string_agg(body, ',' order by id)) from items")).toBe(
        expected,
      );
    });

    it('expires the older full with its incr: no object of theirs is left in the bucket', async () => {
      const labelsOf = (stdout: string): string[] =>
        (JSON.parse(stdout) as { backup: { label: string }[] }[])[0]?.backup.map((backup) => backup.label) ??
        [];
      const before = labelsOf((await setup.pgstashOk(['info', '--output=json'])).stdout);
      expect(before).toHaveLength(2);
      await setup.pgstashOk(['backup', '--start-fast', '--type=full']);
      await setup.pgstashOk(['expire', '--repo1-retention-full=1']);
      const after = labelsOf((await setup.pgstashOk(['info', '--output=json'])).stdout);
      expect(after).toHaveLength(1);
      expect(before).not.toContain(after[0]);
      const names = await server.objectNames(bucket, `pgstash/backup/${setup.stanza}/`);
      for (const label of before) expect(names.filter((name) => name.includes(`/${label}/`))).toEqual([]);
      expect(names.some((name) => name.includes(`/${after[0] ?? 'none'}/`))).toBe(true);
    });
  },
);
