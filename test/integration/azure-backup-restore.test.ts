// End to end on real PostgreSQL 15 with the repository in an Azure Blob container (Azurite over TLS), encrypted and
// not: stanza-create, archive_command, a full then an incr backup, info, restore, start (WAL from the container via
// restore_command) and the data compared; then expire removes the older backups' blobs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { azureServerAvailable, startAzureServer, type AzureTestServer } from '../harness/azure-server.js';
import { RestoreBench } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { switchWal, waitArchived } from '../harness/wal.js';

const LABEL = /backup (\S+) complete/;

describe.skipIf(!azureServerAvailable()).each([
  { cipher: 'none', options: {} },
  {
    cipher: 'aes-256-gcm',
    options: { 'repo1-cipher-type': 'aes-256-gcm', 'repo1-cipher-pass': 'azure-test-pass' },
  },
])('a cluster backed up to Azure Blob (Azurite), cipher $cipher, and restored', ({ options }) => {
  let server: AzureTestServer;
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let container: string;

  beforeAll(async () => {
    server = await startAzureServer();
    container = await server.createContainer('backup-restore');
    setup = await createStanzaSetup({
      global: {
        'repo1-type': 'azure',
        'repo1-path': '/pgstash',
        'repo1-azure-account': server.account,
        'repo1-azure-container': container,
        'repo1-azure-endpoint': server.endpoint,
        'repo1-azure-uri-style': 'path',
        'repo1-azure-key': server.key,
        'repo1-storage-ca-file': server.caFile,
        'repo1-retention-full': '2',
        ...options,
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

  /** Every blob name under `prefix` in the container. */
  async function blobsUnder(prefix: string): Promise<string[]> {
    const names: string[] = [];
    for await (const blob of server.service.getContainerClient(container).listBlobsFlat({ prefix }))
      names.push(blob.name);
    return names;
  }

  it('archives, backs up full then incr, and restores the same data from the container', async () => {
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

    // Written after the incr: only the archive (restore_command, archive-get from the container) brings it back.
    await cluster.psql(`insert into items values (30001, 'after the backup')`);
    await waitArchived(setup, await switchWal(setup));
    const expected = await cluster.psql("select count(*), md5(string_agg(body, ',' order by id)) from items");

    const info = await setup.pgstashOk(['info']);
    expect(info.stdout).toContain('status: ok');
    expect(info.stdout).toContain(`https://${server.endpoint}/${server.account}/${container}/pgstash`);
    expect(info.stdout).toContain(`full backup: ${fullLabel}`);
    expect(info.stdout).toContain('incr backup:');
    // What the container holds is the repository's layout under the prefix.
    const blobs = await blobsUnder('pgstash/');
    expect(blobs).toContain(`pgstash/backup/${setup.stanza}/backup.info`);
    expect(blobs.some((name) => name.startsWith(`pgstash/archive/${setup.stanza}/15-1/`))).toBe(true);

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

  it('expires the older full with its incr: no blob of theirs is left in the container', async () => {
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
    const names = await blobsUnder(`pgstash/backup/${setup.stanza}/`);
    for (const label of before) expect(names.filter((name) => name.includes(`/${label}/`))).toEqual([]);
    expect(names.some((name) => name.includes(`/${after[0] ?? 'none'}/`))).toBe(true);
  });
});
