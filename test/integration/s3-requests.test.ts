// Request economy on S3: the requests each command makes, counted by kind by a proxy (test/harness/fault-proxy.ts)
// in front of versitygw, against a real PostgreSQL 15 cluster: the fewest that do the job (docs/architecture.md).
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
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

/** Requests per kind, zero kinds left out. */
type Counts = Record<string, number>;

describe.skipIf(!s3ServerAvailable('versitygw'))('requests made by each command on S3 (versitygw)', () => {
  let server: S3TestServer;
  /** archive_command's way to the server (the config file's endpoint). */
  let archiver: FaultProxy;
  /** The way of the commands a test runs (PGSTASH_REPO1_S3_ENDPOINT), counted apart from the archiver's. */
  let counter: FaultProxy;
  let setup: StanzaSetup;
  let dir: string;

  /** Runs a command through the counting proxy: its exit code, output and requests by kind. */
  async function counted(args: string[]): Promise<{ code: number | null; stderr: string; counts: Counts }> {
    counter.resetCounts();
    const result = await setup.pgstash(args, { env: { PGSTASH_REPO1_S3_ENDPOINT: counter.endpoint } });
    if (process.env['PGSTASH_SHOW_REQUESTS'] !== undefined) {
      process.stderr.write(
        `${args[0] ?? ''}:\n${counter.requests.map((entry) => `  ${entry.method} ${entry.url}`).join('\n')}\n`,
      );
    }
    return { code: result.code, stderr: result.stderr, counts: counter.counts() };
  }

  beforeAll(async () => {
    server = await startS3Server('versitygw');
    const proxyOptions = await proxyOptionsFor(server);
    archiver = await startFaultProxy(proxyOptions);
    counter = await startFaultProxy(proxyOptions);
    const bucket = await server.createBucket('requests');
    setup = await createStanzaSetup({
      global: s3RepoLines(server, bucket, { endpoint: archiver.endpoint }),
    });
    dir = await createTempDir({ label: 's3-requests' });
    await setup.cluster.start();
  });

  afterAll(async () => {
    await setup?.destroy();
    if (dir !== undefined) await removeTempDir(dir);
    await counter?.stop();
    await archiver?.stop();
    await server?.stop();
  });

  it('counts stanza-create, archive-push, a full backup, info, archive-get, expire', async () => {
    const report: Record<string, Counts> = {};
    const create = await counted(['stanza-create']);
    expect(create.code).toBe(0);
    report['stanza-create'] = create.counts;
    // Is there a key (one listing), archive.info and backup.info (each missing, then its copy), then both files
    // and their copies written.
    expect(create.counts).toEqual({ list: 1, get: 4, put: 4 });

    // One segment pushed by archive_command (the stanza's files are there: a steady-state push).
    await waitArchived(setup, await switchWal(setup));
    archiver.resetCounts();
    await setup.cluster.psql('create table pushed (id int)');
    const pushed = await switchWal(setup);
    await waitArchived(setup, pushed);
    report['archive-push'] = archiver.counts();
    // One listing for stanza.key and its copy (none in a repository without encryption; two HEADs before),
    // archive.info, one listing of the segment's name (stored already?), the claim and the data.
    expect(archiver.counts()).toEqual({ list: 2, get: 1, put: 2 });

    const backup = await counted(['backup', '--type=full', '--start-fast']);
    expect(backup.code, backup.stderr).toBe(0);
    report['backup (full, fresh cluster)'] = backup.counts;
    // ~1,000 files of a fresh cluster, one PUT each; a partial manifest (+ copy) saved every few seconds.
    expect(backup.counts['put']).toBeLessThan(1100);
    expect(backup.counts['list']).toBeLessThan(30);

    const info = await counted(['info']);
    expect(info.code).toBe(0);
    report['info'] = info.counts;
    // Each directory listed once (the stanza's archive and backup directories, the archive id, its one segment
    // directory: the key's lookup, the range, the timelines and the backup's WAL share them), archive.info and
    // backup.info read; drill.history, not in the listing, is not asked for. 13 requests, 7 listings before.
    expect(info.counts).toEqual({ list: 4, get: 2 });

    const present = await counted(['archive-get', pushed, join(dir, 'present')]);
    expect(present.code).toBe(0);
    expect(existsSync(join(dir, 'present'))).toBe(true);
    report['archive-get (present)'] = present.counts;
    // stanza.key (+ copy: one listing), archive.info, one listing of the segment's name, the segment.
    expect(present.counts).toEqual({ list: 2, get: 2 });

    const missing = await counted(['archive-get', '0000000100000099000000FF', join(dir, 'missing')]);
    expect(missing.code).toBe(1);
    expect(existsSync(join(dir, 'missing'))).toBe(false);
    report['archive-get (missing)'] = missing.counts;
    expect(missing.counts).toEqual({ list: 2, get: 1 });

    const second = await counted(['backup', '--type=full', '--start-fast']);
    expect(second.code).toBe(0);
    // A slow archiver (each archive PUT 4 s late): the backup's wait for its last segment polls less and less
    // often (at most once a second), not every 100 ms.
    archiver.inject({ fault: 'delay', kind: 'put', delayMs: 4000, times: Infinity });
    const started = Date.now();
    const slow = await counted(['backup', '--type=incr', '--start-fast']);
    const seconds = (Date.now() - started) / 1000;
    archiver.clearFaults();
    expect(slow.code, slow.stderr).toBe(0);
    const archiveLists = counter.requests.filter(
      (entry) => entry.kind === 'list' && entry.url.includes('prefix=pgstash%2Farchive%2F'),
    ).length;
    expect(seconds).toBeGreaterThan(4);
    expect(archiveLists).toBeLessThanOrEqual(5 + seconds);
    report['backup (incr, waiting for a slow archiver)'] = slow.counts;

    const expire = await counted(['expire', '--repo1-retention-full=1']);
    expect(expire.code, expire.stderr).toBe(0);
    report['expire (one full)'] = expire.counts;

    process.stderr.write(`requests by command: ${JSON.stringify(report, null, 1)}\n`);
  });
});
