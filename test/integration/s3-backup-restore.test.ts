// End to end on real PostgreSQL 15 with the repository in an S3 bucket (versitygw over TLS): stanza-create,
// archive_command, a full then an incr backup, info, restore, start (WAL from the bucket via restore_command)
// and the data compared; then expire removes the older backups' objects.
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RestoreBench } from '../harness/restore.js';
import { s3ServerAvailable, startS3Server, type S3TestServer } from '../harness/s3-server.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { switchWal, waitArchived } from '../harness/wal.js';

const LABEL = /backup (\S+) complete/;

describe.skipIf(!s3ServerAvailable('versitygw'))('a cluster backed up to S3 (versitygw) and restored', () => {
  let server: S3TestServer;
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let bucket: string;

  beforeAll(async () => {
    server = await startS3Server('versitygw');
    bucket = await server.createBucket('backup-restore');
    setup = await createStanzaSetup({
      global: {
        'repo1-type': 's3',
        'repo1-path': '/pgstash',
        'repo1-s3-bucket': bucket,
        'repo1-s3-endpoint': server.endpoint,
        'repo1-s3-region': server.region,
        'repo1-s3-uri-style': 'path',
        'repo1-s3-key': server.accessKey,
        'repo1-s3-key-secret': server.secretKey,
        'repo1-storage-ca-file': server.caFile,
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
    const expected = await cluster.psql("select count(*), md5(string_agg(body, ',' order by id)) from items");

    const info = await setup.pgstashOk(['info']);
    expect(info.stdout).toContain('status: ok');
    expect(info.stdout).toContain(`https://${server.endpoint}/`);
    expect(info.stdout).toContain(`full backup: ${fullLabel}`);
    expect(info.stdout).toContain('incr backup:');

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
    const page = await server.client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: `pgstash/backup/${setup.stanza}/` }),
    );
    const keys = (page.Contents ?? []).map((object) => object.Key ?? '');
    for (const label of before) expect(keys.filter((key) => key.includes(`/${label}/`))).toEqual([]);
    expect(keys.some((key) => key.includes(`/${after[0] ?? 'none'}/`))).toBe(true);
  });
});
