// A bundled restore from S3 (versitygw) reads each bundle with one streamed GET (BackupStore.readBundle), and a bundle
// body cut short or reset mid-stream is read on from the byte reached: the restore completes, every file checked
// (pg_verifybackup), with one more GET per fault.
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

describe.skipIf(!s3ServerAvailable('versitygw'))('a bundled restore from S3 (versitygw, lz4)', () => {
  let server: S3TestServer;
  let proxy: FaultProxy;
  let setup: StanzaSetup;
  let restores: RestoreBench;

  beforeAll(async () => {
    server = await startS3Server('versitygw');
    proxy = await startFaultProxy(await proxyOptionsFor(server));
    const bucket = await server.createBucket('bundle-stream');
    setup = await createStanzaSetup({
      compressType: 'lz4',
      global: { ...s3RepoLines(server, bucket, { endpoint: proxy.endpoint }), 'repo1-bundle': 'y' },
    });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql(
      `create table t (id int, v text); insert into t select g, md5(g::text) from generate_series(1, 20000) g;`,
    );
    await setup.pgstashOk(['backup', '--type=full', '--start-fast']);
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
    await proxy?.stop();
    await server?.stop();
  });

  const bundleGets = (): string[] =>
    proxy.requests.filter((r) => r.kind === 'get' && r.url.includes('/bundle/')).map((r) => r.url);

  it('reads each bundle with one GET', async () => {
    proxy.resetCounts();
    await restores.restore(['--process-max=2']);
    const gets = bundleGets();
    const bundles = new Set(gets.map((url) => url.replace(/\?.*$/, '')));
    expect(bundles.size).toBeGreaterThan(0);
    // A fresh cluster's ~800 bundled files: 21 GETs for two bundles when batches were read by range.
    expect(gets.length).toBe(bundles.size);
  });

  it('reads on from the byte reached when a bundle body is cut short or reset mid-stream', async () => {
    proxy.resetCounts();
    proxy.inject({ fault: 'truncate', kind: 'get', path: /\/bundle\/1\.tar/, times: 1 });
    // The retry of the cut GET meets the second rule (the first matched its one request already).
    proxy.inject({ fault: 'resetResponse', kind: 'get', path: /\/bundle\/1\.tar/, times: 1 });
    try {
      // pg_verifybackup (RestoreBench) checks every restored file against the backup's checksums.
      await restores.restore(['--process-max=2']);
    } finally {
      proxy.clearFaults();
    }
    const gets = bundleGets();
    const bundles = new Set(gets.map((url) => url.replace(/\?.*$/, '')));
    expect(gets.filter((url) => url.includes('/bundle/1.tar'))).toHaveLength(3);
    expect(gets.length).toBe(bundles.size + 2);
  });
});
