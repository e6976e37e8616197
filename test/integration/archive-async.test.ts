// Asynchronous archiving on a real PostgreSQL 15 (archive-async=y): a write-heavy load archived byte-identical,
// kill -9 of the background process loses nothing, recovery through the prefetching spool is exact and never
// serves a stale spool, and beyond archive-push-queue-max WAL is dropped rather than blocking the server.
import { readdir, readFile, rm, utimes, writeFile, mkdir, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresIds } from '../harness/postgres-user.js';
import { RestoreBench } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { createTempDir, removeTempDir } from '../harness/tmp.js';
import { setArchiveCommand, switchWal, waitArchived } from '../harness/wal.js';
import { processAlive } from '../harness/exec.js';
import { pgstashCommandLine, runPgstash } from '../harness/pgstash.js';
import { nextSegment } from '../../src/postgres/wal-name.js';

describe('asynchronous archiving (archive-async=y, 1 MiB segments, process-max=2)', () => {
  let setup: StanzaSetup;
  let spool: string;
  let bench: RestoreBench;
  let fetchDir: string;

  beforeAll(async () => {
    spool = await createTempDir({ label: 'spool' });
    setup = await createStanzaSetup({
      walSegmentSizeMb: 1,
      global: { 'archive-async': 'y', 'spool-path': spool, 'process-max': '2', 'archive-timeout': '60' },
      // Keep every segment in pg_wal so the server's own copies can be compared with the archive's.
      cluster: { settings: { wal_keep_size: '2GB', max_wal_size: '2GB', checkpoint_timeout: '1h' } },
    });
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    bench = new RestoreBench(setup);
    fetchDir = await createTempDir({ label: 'fetch' });
  });

  afterAll(async () => {
    await bench?.cleanup();
    await setup?.cluster.stop('fast').catch(() => undefined);
    // A background process still running would write into directories being removed.
    for (let tries = 0; tries < 100 && (await backgroundPid(setup, 'archive')) !== undefined; tries++)
      await sleep(100);
    await setup?.destroy();
    if (fetchDir !== undefined) await removeTempDir(fetchDir);
    if (spool !== undefined) await removeTempDir(spool);
  });

  /** Every segment the server marked archived (.done) comes back from the repository byte-identical. */
  async function expectDoneSegmentsArchived(): Promise<number> {
    const pgWal = join(setup.cluster.dataDir, 'pg_wal');
    const done = (await readdir(join(pgWal, 'archive_status')))
      .filter((name) => /^[0-9A-F]{24}\.done$/.test(name))
      .map((name) => name.slice(0, -'.done'.length));
    for (const segment of done) {
      const dest = join(fetchDir, segment);
      // Synchronous archive-get: straight from the repository.
      await setup.pgstashOk(['archive-get', '--no-archive-async', segment, dest]);
      const original = await readFile(join(pgWal, segment));
      expect((await readFile(dest)).equals(original), `${segment} differs`).toBe(true);
      await writeFile(dest, '');
    }
    return done.length;
  }

  it('archives a write-heavy load with every segment byte-identical in the repository', async () => {
    const { cluster } = setup;
    await cluster.psql('create table t (id bigint primary key, payload text)');
    await setup.pgstashOk(['backup', '--type=full']);
    for (let round = 0; round < 6; round++) {
      await cluster.psql(
        `insert into t select g, repeat(md5(g::text), 30) from generate_series(${round * 20000 + 1}, ${(round + 1) * 20000}) g`,
      );
    }
    const last = await switchWal(setup);
    await waitArchived(setup, last, 180);
    const count = await expectDoneSegmentsArchived();
    expect(count).toBeGreaterThanOrEqual(60);
    // The spool holds no error, and the statuses of segments PostgreSQL has done are cleaned up by later runs.
    const systemId = await cluster.psql('select system_identifier from pg_control_system()');
    const out = await readdir(join(spool, 'archive', setup.stanza, 'out', systemId));
    expect(out.filter((name) => name.endsWith('.error'))).toEqual([]);
  }, 600_000);

  it('archive-push answered from the spool loads no repository code: no node:crypto, node:child_process or node:zlib', async () => {
    // PostgreSQL starts one archive-push per segment, one at a time: what that process loads bounds the archiving
    // rate (push.ts, push-async.ts import the rest only when used). A segment never made ready, acknowledged in
    // the spool as a background process would have.
    const { cluster } = setup;
    const systemId = await cluster.psql('select system_identifier from pg_control_system()');
    const segment = '00000001000000990000007F';
    // The spool's directory for this cluster exists: the first test archived through it.
    const ok = join(spool, 'archive', setup.stanza, 'out', systemId, `${segment}.ok`);
    await writeFile(ok, '');
    // Node's list of the built-in modules it loaded, written when the process exits.
    const preload = join(fetchDir, 'loaded-modules.cjs');
    await writeFile(
      preload,
      "process.on('exit', () => require('node:fs').writeSync(2, 'LOADED ' + process.moduleLoadList.join(',') + '\\n'));\n",
    );
    try {
      const result = await runPgstash(
        [`--config=${setup.configPath}`, `--stanza=${setup.stanza}`, 'archive-push', `pg_wal/${segment}`],
        { as: 'postgres', cwd: cluster.dataDir, env: { NODE_OPTIONS: `--require ${preload}` } },
      );
      expect(result.code, result.stderr).toBe(0);
      const loaded = (/^LOADED (.*)$/m.exec(result.stderr)?.[1] ?? '').split(',');
      // The launcher ran (vm: the code cache), so the list is the whole process's.
      expect(loaded).toContain('NativeModule vm');
      for (const module of ['crypto', 'child_process', 'zlib', 'stream'])
        expect(loaded, module).not.toContain(`NativeModule ${module}`);
    } finally {
      await rm(ok, { force: true });
      await rm(preload, { force: true });
    }
  });

  it('kill -9 of the background process mid-push: every segment PostgreSQL has as archived is stored', async () => {
    const { cluster } = setup;
    // Stale answers for the segments to come, as another cluster (another system id, or pgBackRest's layout
    // without one) would have left them in this stanza's spool: trusted, they would acknowledge WAL never stored,
    // which the check below (every .done segment is in the repository) would catch.
    const { uid, gid } = postgresIds();
    let next = await cluster.psql('select pg_walfile_name(pg_current_wal_lsn())');
    const staleOut = [
      join(spool, 'archive', setup.stanza, 'out'),
      join(spool, 'archive', setup.stanza, 'out', '42'),
    ];
    await mkdir(staleOut[1] ?? '', { recursive: true });
    for (let i = 0; i < 200; i++) {
      for (const dir of staleOut) await writeFile(join(dir, `${next}.ok`), '');
      next = nextSegment(next, 1024 * 1024);
    }
    for (const dir of staleOut) await chown(dir, uid, gid);
    let kills = 0;
    const load = (async () => {
      for (let round = 0; round < 8; round++) {
        await cluster.psql(
          `insert into t select g, repeat(md5(g::text), 30) from generate_series(${200000 + round * 10000}, ${200000 + (round + 1) * 10000 - 1}) g`,
        );
      }
    })();
    let loading = true;
    void load.finally(() => {
      loading = false;
    });
    while (loading) {
      const pid = await backgroundPid(setup, 'archive');
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
          kills++;
        } catch {
          // It ended by itself in between.
        }
      }
      await sleep(50);
    }
    await load;
    // Archiving goes on: a later archive-push starts a new background process.
    const last = await switchWal(setup);
    await waitArchived(setup, last, 180);
    await expectDoneSegmentsArchived();
    expect(kills).toBeGreaterThan(0);
  }, 600_000);

  it('recovery through restore_command with prefetch reaches the end of the archive, never serving a stale spool', async () => {
    const { cluster } = setup;
    await cluster.psql("insert into t values (0, 'last row')");
    const expected = await cluster.psql('select count(*), sum(hashtext(payload)) from t');
    const last = await switchWal(setup);
    await waitArchived(setup, last, 180);
    const systemId = await cluster.psql('select system_identifier from pg_control_system()');
    const backupStart = await cluster.psql(
      "select min(name) from pg_ls_dir('pg_wal') name where name ~ '^[0-9A-F]{24}$'",
    );

    // Stale spools: another cluster's (another system id) and another stanza's, with garbage under the names
    // recovery asks for. Served, any would break the recovery.
    const { uid, gid } = postgresIds();
    const wanted = await readdir(join(cluster.dataDir, 'pg_wal'));
    const segments = wanted.filter((name) => /^[0-9A-F]{24}$/.test(name)).sort();
    expect(segments[0]).toBe(backupStart);
    const staleDirs = [
      join(spool, 'archive', setup.stanza, 'in', '1234567890'),
      // pgBackRest's layout, without the system id.
      join(spool, 'archive', setup.stanza, 'in'),
      join(spool, 'archive', 'other', 'in', systemId),
    ];
    for (const dir of staleDirs) {
      await mkdir(dir, { recursive: true });
      for (const segment of segments) await writeFile(join(dir, segment), Buffer.alloc(8192, 0x55));
    }
    // Old "not in the archive" answers in this cluster's own spool, for every segment: left by a foreground that
    // gave up an hour ago, they must not end this recovery at its first segment.
    const own = join(spool, 'archive', setup.stanza, 'in', systemId);
    await mkdir(own, { recursive: true });
    const hourAgo = new Date(Date.now() - 3600_000);
    for (const segment of segments) {
      await writeFile(join(own, `${segment}.ok`), '');
      await utimes(join(own, `${segment}.ok`), hourAgo, hourAgo);
    }
    for (const dir of [...staleDirs, own, join(spool, 'archive'), join(spool, 'archive', 'other')])
      await chown(dir, uid, gid);

    const { dataDir } = await bench.restore(['--type=default']);
    const restored = await bench.start(dataDir);
    await restored.waitForRecoveryEnd(300);
    expect(await restored.psql('select count(*), sum(hashtext(payload)) from t')).toBe(expected);
    expect(await restored.psql('select payload from t where id = 0')).toBe('last row');
    // The stale spools are untouched: nothing was taken from them.
    for (const dir of staleDirs) {
      const left = (await readdir(dir)).filter((name) => /^[0-9A-F]{24}$/.test(name));
      expect(left.length, dir).toBe(segments.length);
    }
    // And the cluster's own spool was used: the first segments by pgstash (the spool was empty), most of them by
    // restore_command's move out of the spool, with no Node process started.
    const log = await readFile(join(setup.dir, 'log', `${setup.stanza}-archive-get.log`), 'utf8');
    const byPgstash = log.match(/found [0-9A-F]{24} in the archive asynchronously/g) ?? [];
    expect(byPgstash.length).toBeGreaterThan(0);
    expect(byPgstash.length).toBeLessThan(segments.length / 2);
    const autoConf = await readFile(join(dataDir, 'postgresql.auto.conf'), 'utf8');
    expect(autoConf).toContain(`restore_command = 'mv ${own}/%f "%p" 2>/dev/null || exec `);
  }, 600_000);

  it('beyond archive-push-queue-max WAL is dropped with an error in the log, and the server is not blocked', async () => {
    const { cluster } = setup;
    // A background process left from before (it lingers 2 s once idle) would push what piles up below without
    // this test's queue-max: the foreground starts one only when none runs.
    const lingering = async (): Promise<boolean> => {
      const pid = await backgroundPid(setup, 'archive');
      return pid !== undefined && processAlive(pid);
    };
    for (let tries = 0; tries < 100 && (await lingering()); tries++) await sleep(100);
    // Hold the archiver back so that segments pile up as .ready, then let pgstash see 4 MiB waiting for 2 MiB.
    await setArchiveCommand(setup, 'false');
    for (let i = 0; i < 4; i++) {
      await cluster.psql(
        `insert into t select g, 'x' from generate_series(${1000000 + i * 1000}, ${1000999 + i * 1000}) g`,
      );
      await switchWal(setup);
    }
    const ready = (await readdir(join(cluster.dataDir, 'pg_wal', 'archive_status'))).filter((name) =>
      name.endsWith('.ready'),
    );
    expect(ready.length).toBeGreaterThanOrEqual(3);
    const dropped = ready.map((name) => name.slice(0, -'.ready'.length)).sort();
    await setArchiveCommand(
      setup,
      `${pgstashCommandLine(setup.configPath)} --stanza=${setup.stanza} --archive-push-queue-max=2MiB archive-push %p`,
    );
    const last = await switchWal(setup);
    await waitArchived(setup, last, 180);
    const log = await readFile(join(setup.dir, 'log', `${setup.stanza}-archive-push.log`), 'utf8');
    expect(log).toMatch(/"level":"error".*dropped WAL file\(s\) .*archive-push-queue-max/);
    // What was dropped is not in the archive: acknowledged without being stored, as documented.
    const first = dropped[0] ?? '';
    const result = await setup.pgstash(['archive-get', '--no-archive-async', first, join(fetchDir, first)]);
    expect(result.code).toBe(1);
  }, 600_000);
});

/** The pid in the stanza's lock file of `type`, when there is one. */
async function backgroundPid(setup: StanzaSetup | undefined, type: string): Promise<number | undefined> {
  if (setup === undefined) return undefined;
  try {
    const owner = JSON.parse(
      await readFile(join(setup.dir, 'lock', `${setup.stanza}-${type}.lock`), 'utf8'),
    ) as {
      pid: number;
    };
    return owner.pid;
  } catch {
    return undefined;
  }
}
