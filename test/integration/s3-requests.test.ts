// Request economy on S3: the requests each command makes, counted by kind by a proxy (test/harness/fault-proxy.ts)
// in front of versitygw, against a real PostgreSQL 15 cluster: the fewest that do the job (docs/architecture.md).
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startCountedS3, type CountedS3Setup, type RequestCounts } from '../harness/s3-counted.js';
import { s3ServerAvailable } from '../harness/s3-server.js';
import type { StanzaSetup } from '../harness/stanza.js';
import { createTempDir, removeTempDir } from '../harness/tmp.js';
import { switchWal, waitArchived } from '../harness/wal.js';

type Counts = RequestCounts;

describe.skipIf(!s3ServerAvailable('versitygw'))('requests made by each command on S3 (versitygw)', () => {
  let s3: CountedS3Setup;
  let setup: StanzaSetup;
  let dir: string;

  /** Runs a command through the counting proxy: its exit code, output and requests by kind. */
  async function counted(args: string[]): Promise<{ code: number | null; stderr: string; counts: Counts }> {
    const result = await s3.counted(args);
    if (process.env['PGSTASH_SHOW_REQUESTS'] !== undefined) {
      process.stderr.write(
        `${args[0] ?? ''}:\n${s3.counter.requests.map((entry) => `  ${entry.method} ${entry.url}`).join('\n')}\n`,
      );
    }
    return result;
  }

  beforeAll(async () => {
    // stanza-create is counted by the test itself.
    s3 = await startCountedS3('requests', { stanzaCreate: false });
    setup = s3.setup;
    dir = await createTempDir({ label: 's3-requests' });
  });

  afterAll(async () => {
    if (dir !== undefined) await removeTempDir(dir);
    await s3?.destroy();
  });

  it('counts stanza-create, archive-push, a full backup, info, archive-get, expire, restore', async () => {
    const report: Record<string, Counts> = {};
    const create = await counted(['stanza-create']);
    expect(create.code).toBe(0);
    report['stanza-create'] = create.counts;
    // Is there a key (one listing), archive.info and backup.info (each missing, then its copy), then both files
    // and their copies written, then the backup directory listed (backups a lost backup.info no longer names).
    expect(create.counts).toEqual({ list: 2, get: 4, put: 4 });

    // One segment pushed by archive_command (the stanza's files are there: a steady-state push).
    await waitArchived(setup, await switchWal(setup));
    s3.archiver.resetCounts();
    await setup.cluster.psql('create table pushed (id int)');
    const pushed = await switchWal(setup);
    await waitArchived(setup, pushed);
    report['archive-push'] = s3.archiver.counts();
    // archive.info (its bytes show an encrypted stanza: no listing for stanza.key), one listing of the segment's
    // name (stored already?), the claim and the data. 5 requests while the key was looked up.
    expect(s3.archiver.counts()).toEqual({ list: 1, get: 1, put: 2 });

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
    // archive.info, one listing of the segment's name, the segment (4 while stanza.key was looked up).
    expect(present.counts).toEqual({ list: 1, get: 2 });

    const missing = await counted(['archive-get', '0000000100000099000000FF', join(dir, 'missing')]);
    expect(missing.code).toBe(1);
    expect(existsSync(join(dir, 'missing'))).toBe(false);
    report['archive-get (missing)'] = missing.counts;
    expect(missing.counts).toEqual({ list: 1, get: 1 });

    const second = await counted(['backup', '--type=full', '--start-fast']);
    expect(second.code).toBe(0);
    // A slow archiver (each archive PUT 4 s late): the backup's wait for its last segment polls less and less
    // often (at most once a second), not every 100 ms.
    s3.archiver.inject({ fault: 'delay', kind: 'put', delayMs: 4000, times: Infinity });
    const started = Date.now();
    const slow = await counted(['backup', '--type=incr', '--start-fast']);
    const seconds = (Date.now() - started) / 1000;
    s3.archiver.clearFaults();
    expect(slow.code, slow.stderr).toBe(0);
    const archiveLists = s3.counter.requests.filter(
      (entry) => entry.kind === 'list' && entry.url.includes('prefix=pgstash%2Farchive%2F'),
    ).length;
    expect(seconds).toBeGreaterThan(4);
    expect(archiveLists).toBeLessThanOrEqual(5 + seconds);
    report['backup (incr, waiting for a slow archiver)'] = slow.counts;

    const expire = await counted(['expire', '--repo1-retention-full=1']);
    expect(expire.code, expire.stderr).toBe(0);
    report['expire (one full)'] = expire.counts;

    const restored = join(dir, 'restored');
    const restore = await counted(['restore', `--pg1-path=${restored}`]);
    expect(restore.code, restore.stderr).toBe(0);
    expect(existsSync(join(restored, 'global', 'pg_control'))).toBe(true);
    report['restore (incr, not bundled)'] = restore.counts;
    // One listing finds the full the incr refers to; the archive checks list the backup's WAL directory and the
    // archive id's timelines, with the archive ids of the backup.info the set was chosen from: archive.info is not
    // read (a GET more before).
    expect(restore.counts['list']).toBe(3);
    expect(s3.counter.requests.filter((entry) => entry.url.includes('archive.info'))).toEqual([]);
    expect(s3.counter.requests.filter((entry) => entry.url.includes('backup.info'))).toHaveLength(1);

    process.stderr.write(`requests by command: ${JSON.stringify(report, null, 1)}\n`);
  });
});
