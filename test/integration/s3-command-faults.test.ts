// Commands on a real PostgreSQL 15 cluster whose S3 repository (versitygw) is reached through the fault proxy:
// archive-get writes nothing when faults outlast io-timeout and the exact segment when they pass, a backup failed
// by faults is not listed, and the repository stays consistent (info, a later backup, a restore under faults).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { RestoreBench } from '../harness/restore.js';
import {
  proxyOptionsFor,
  s3RepoLines,
  s3ServerAvailable,
  startS3Server,
  type S3TestServer,
} from '../harness/s3-server.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { createTempDir, removeTempDir } from '../harness/tmp.js';
import { switchWal, waitArchived } from '../harness/wal.js';

const LABEL = /backup (\S+) complete/;

describe.skipIf(!s3ServerAvailable('versitygw'))('commands under S3 faults (versitygw)', () => {
  let server: S3TestServer;
  let proxy: FaultProxy;
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let dir: string;
  let segment: string;

  const labels = async (): Promise<string[]> => {
    const info = await setup.pgstashOk(['info', '--output=json']);
    return (
      (JSON.parse(info.stdout) as { backup: { label: string }[] }[])[0]?.backup.map((b) => b.label) ?? []
    );
  };

  beforeAll(async () => {
    server = await startS3Server('versitygw');
    proxy = await startFaultProxy(await proxyOptionsFor(server));
    const bucket = await server.createBucket('command-faults');
    setup = await createStanzaSetup({
      global: s3RepoLines(server, bucket, { endpoint: proxy.endpoint }),
    });
    restores = new RestoreBench(setup);
    dir = await createTempDir({ label: 'command-faults' });
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql('create table items (id int primary key, body text)');
    segment = await switchWal(setup);
    await waitArchived(setup, segment);
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
    if (dir !== undefined) await removeTempDir(dir);
    await proxy?.stop();
    await server?.stop();
  });

  it('archive-get: faults that outlast io-timeout fail it with 101 and nothing in the destination', async () => {
    const target = await createTempDir({ label: 'lasting' });
    try {
      for (const fault of ['slowDown', 'truncate'] as const) {
        proxy.clearFaults();
        proxy.inject({ fault, kind: 'get', path: new RegExp(`/${segment}-`), times: Infinity });
        const result = await setup.pgstash(['archive-get', '--io-timeout=1', segment, join(target, segment)]);
        proxy.clearFaults();
        expect(result.code, result.stderr).toBe(101);
        expect(result.stderr).toMatch(
          new RegExp(`ERROR: \\[101\\]: unable to read 'https://${proxy.endpoint}/`),
        );
        expect(await readdir(target)).toEqual([]);
      }
    } finally {
      await removeTempDir(target);
    }
  });

  it('archive-get: a fault that passes (a cut body, a reset, SlowDown) still gives the exact segment', async () => {
    const clean = join(dir, 'clean');
    await setup.pgstashOk(['archive-get', segment, clean]);
    for (const fault of ['truncate', 'resetResponse', 'slowDown', 'resetRequest'] as const) {
      proxy.inject({ fault, kind: 'get', path: new RegExp(`/${segment}-`) });
      const fetched = join(dir, `fetched-${fault}`);
      await setup.pgstashOk(['archive-get', segment, fetched]);
      proxy.clearFaults();
      expect((await readFile(fetched)).equals(await readFile(clean))).toBe(true);
    }
  });

  it('archive-push: a claim whose answer was lost finds its own claim on the retry (412) and succeeds', async () => {
    const failedBefore = await setup.cluster.psql('select failed_count from pg_stat_archiver');
    proxy.resetCounts();
    const claim = proxy.inject({ fault: 'resetResponse', kind: 'put', path: /\.claim\?/ });
    await setup.cluster.psql('create table pushed_under_fault (id int)');
    await waitArchived(setup, await switchWal(setup));
    proxy.clearFaults();
    expect(claim.faulted).toBe(1);
    // The claim was sent twice (the second refused by If-None-Match), then read: its own; the push did not fail.
    const claims = proxy.requests.filter((entry) => entry.url.includes('.claim?'));
    expect(claims.map((entry) => entry.kind)).toEqual(['put', 'put', 'get']);
    expect(await setup.cluster.psql('select failed_count from pg_stat_archiver')).toBe(failedBefore);
  });

  it('a backup failed by faults is not listed; a later backup and a restore under faults work', async () => {
    await setup.cluster.psql(`insert into items select g, md5(g::text) from generate_series(1, 20000) g`);
    const first = LABEL.exec((await setup.pgstashOk(['backup', '--type=full', '--start-fast'])).stdout)?.[1];
    expect(first).toBeDefined();

    // Data files stop going in after the first: the backup fails once io-timeout is spent. (An incr copies only
    // what changed since the full, a handful of files: the full's start comes after its checkpoint, whose writes
    // it then trusts, copy-start.ts. A fault from the 20th PUT on was never reached once it did.)
    await setup.cluster.psql(`update items set body = 'changed' where id % 7 = 0`);
    proxy.inject({ fault: 'error500', kind: 'put', path: /\/pg_data\//, nth: 2, times: Infinity });
    const failed = await setup.pgstash(['backup', '--type=incr', '--start-fast', '--io-timeout=1']);
    proxy.clearFaults();
    expect(failed.code, failed.stderr).toBe(101);
    expect(failed.stderr).toMatch(
      /ERROR: \[101\]: unable to write 'https:\/\/.*\/pg_data\/.*': InternalError/,
    );
    expect(await labels()).toEqual([first]);

    // Transient faults during the next backup: each retried, the backup completes.
    proxy.inject({ fault: 'slowDown', kind: 'put', path: /\/pg_data\//, nth: 5 });
    proxy.inject({ fault: 'resetRequest', kind: 'put', path: /\/pg_data\//, nth: 10 });
    proxy.inject({ fault: 'stall', kind: 'put', path: /\/pg_data\//, nth: 15 });
    const next = await setup.pgstashOk(['backup', '--type=incr', '--start-fast', '--io-timeout=3']);
    proxy.clearFaults();
    const incr = LABEL.exec(next.stdout)?.[1];
    expect(await labels()).toEqual([first, incr]);

    await setup.cluster.psql(`insert into items values (30001, 'after the backup')`);
    await waitArchived(setup, await switchWal(setup));
    const expected = await setup.cluster.psql(
      "select count(*), md5(string_agg(body, ',' order by id)) from items",
    );

    // The restore reads through cut and reset bodies and a SlowDown.
    proxy.resetCounts();
    proxy.inject({ fault: 'truncate', kind: 'get', path: /\/pg_data\//, nth: 3 });
    proxy.inject({ fault: 'resetResponse', kind: 'get', path: /\/pg_data\//, nth: 6 });
    proxy.inject({ fault: 'slowDown', kind: 'get', nth: 9 });
    const { dataDir } = await restores.restore([]);
    const faulted = proxy.requests.filter((entry) => entry.fault !== undefined).length;
    proxy.clearFaults();
    expect(faulted).toBe(3);
    const restored = await restores.start(dataDir);
    for (let i = 0; i < 300; i++) {
      if ((await restored.psql('select pg_is_in_recovery()')) === 'f') break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await restored.psql("select count(*), md5(string_agg(body, ',' order by id)) from items")).toBe(
      expected,
    );
  });
});
