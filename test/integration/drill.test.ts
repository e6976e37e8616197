// drill end to end on real PostgreSQL 15: a good repository passes (text and JSON, as postgres and as root) and info
// shows the last drill; a missing WAL segment, a wrong query result and a server that cannot start each fail with
// their own exit code and reason; drill-keep-failed keeps the directory; production keeps running untouched and
// the repository gets no WAL of the drill's timeline.
import { chown, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive } from '../harness/exec.js';
import type { PgstashResult } from '../harness/pgstash.js';
import { postgresIds } from '../harness/postgres-user.js';
import { signalWhen } from '../harness/signal.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { switchWal, waitArchived } from '../harness/wal.js';

/** Every file under `dir`, relative, sorted. */
async function listTree(dir: string, prefix = ''): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(prefix, entry.name);
    if (entry.isDirectory()) names.push(...(await listTree(join(dir, entry.name), path)));
    else names.push(path);
  }
  return names.sort();
}

/**
 * The socket directory a drill under `scratch` made under /tmp, from the marker it keeps there while it runs
 * (drill.pid; a killed drill leaves it). Tests look at that directory itself, never at a snapshot of /tmp: drills of
 * other test files running at the same time make and remove their own.
 */
async function socketDirOf(scratch: string): Promise<string> {
  const marker = JSON.parse(await readFile(join(scratch, 'drill.pid'), 'utf8')) as { socketDir?: string };
  if (marker.socketDir === undefined) throw new Error(`no socket directory in ${scratch}'s drill.pid`);
  return marker.socketDir;
}

/** The socket directory under /tmp a drill run at log level info names. */
function socketDirIn(stdout: string): string {
  const dir = /socket in '(\/tmp\/pgstash-drill-[^']+)'/.exec(stdout)?.[1];
  if (dir === undefined) throw new Error(`no socket directory under /tmp named in:\n${stdout}`);
  return dir;
}

/** Whether `path` exists. */
async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

interface DrillJson {
  status: { code: number; result: string; message: string | null };
  backup: { label: string | null; lsn: { start: string | null } };
  recovery: { type: string; end: { lsn: string; timeline: number } | null; 'wal-replayed': number | null };
  time: { restore: number | null; recovery: number | null; rto: number | null; total: number | null };
  checks: {
    amcheck: { status: string } | null;
    query: { status: string; actual?: string | null } | null;
    tables: { database: string; schema: string; table: string; rows: number; bytes: number }[] | null;
  };
  path: { data: string; scratch: string; kept: boolean };
}

describe('drill', () => {
  let setup: StanzaSetup;
  let drillPath: string;
  let label: string;
  let archiveStart: string;

  beforeAll(async () => {
    setup = await createStanzaSetup();
    const { cluster } = setup;
    await cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await cluster.psql(
      `create table small (i int); insert into small select generate_series(1, 1000);
       create table big (i int, pad text); insert into big select g, repeat('x', 200) from generate_series(1, 20000) g;
       create index big_i on big (i);`,
    );
    await setup.pgstashOk(['backup', '--type=full', '--start-fast']);
    // Written after the backup: only WAL replay brings these rows back.
    await cluster.psql('insert into small select generate_series(1001, 1500)');
    await waitArchived(setup, await switchWal(setup));
    const [stanza] = JSON.parse((await setup.pgstashOk(['info', '--output=json'])).stdout) as [
      { backup: { label: string; archive: { start: string } }[] },
    ];
    label = stanza.backup[0]?.label ?? '';
    archiveStart = stanza.backup[0]?.archive.start ?? '';
    drillPath = join(setup.dir, 'drills');
    await mkdir(drillPath, { mode: 0o700 });
    const { uid, gid } = postgresIds();
    await chown(drillPath, uid, gid);
  }, 300_000);

  afterAll(async () => {
    await setup?.destroy();
  });

  /** The repository's archived WAL file names (segments, history files). */
  async function archived(): Promise<string[]> {
    return (await listTree(join(setup.repoPath, 'archive'))).map((path) => path.split('/').at(-1) ?? '');
  }

  it('passes on a good repository, leaves production and its archive alone, and info shows it', async () => {
    const { cluster } = setup;
    const pidBefore = await readFile(join(cluster.dataDir, 'postmaster.pid'), 'utf8');
    const walBefore = await archived();
    const result = await setup.pgstash([
      'drill',
      `--drill-path=${drillPath}`,
      '--drill-query=select count(*) from small',
      '--drill-expect=1500',
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(`drill of stanza main (repo1): ok`);
    expect(result.stdout).toContain(`backup set: ${label}`);
    expect(result.stdout).toMatch(/pg_amcheck: ok/);
    expect(result.stdout).toMatch(/drill-query: ok/);
    expect(result.stdout).toMatch(/postgres\.public\.big: 20000 rows/);
    expect(result.stdout).toMatch(/postgres\.public\.small: 1500 rows/);
    expect(result.stdout).toMatch(/WAL replayed: .* promoted to timeline 2/);
    expect(result.stdout).toMatch(/RTO: \d+\.\ds/);
    // Scratch removed; production still runs, the same postmaster, answering on its port.
    expect(await readdir(drillPath)).toEqual([]);
    expect(await readFile(join(cluster.dataDir, 'postmaster.pid'), 'utf8')).toBe(pidBefore);
    expect(await cluster.psql('select count(*) from small')).toBe('1500');
    // The promoted copy (timeline 2) archived nothing: no timeline 2 segment, no history file in the repository.
    await waitArchived(setup, await switchWal(setup));
    const walAfter = await archived();
    expect(
      walAfter.filter((name) => !walBefore.includes(name)).every((name) => name.startsWith('00000001')),
    ).toBe(true);
    expect(walAfter.filter((name) => /^00000002|\.history/.test(name))).toEqual([]);

    const info = await setup.pgstashOk(['info']);
    expect(info.stdout).toMatch(new RegExp(`last drill: ok, backup set ${label}, RTO \\d+\\.\\ds, at `));
    const [stanza] = JSON.parse((await setup.pgstashOk(['info', '--output=json'])).stdout) as [
      { drill: { last: { result: string; code: number; label: string; rto: number } | null } },
    ];
    expect(stanza.drill.last).toMatchObject({ result: 'ok', code: 0, label });
    expect(stanza.drill.last?.rto).toBeGreaterThan(0);
  }, 300_000);

  it('reports as JSON, run as root with the server as the data directory owner', async () => {
    const result = await setup.pgstash(
      ['drill', `--drill-path=${drillPath}`, '--output=json', '--type=immediate'],
      {
        as: 'root',
      },
    );
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as DrillJson;
    expect(report.status).toEqual({ code: 0, result: 'ok', message: null });
    expect(report.backup.label).toBe(label);
    expect(report.recovery.type).toBe('immediate');
    expect(report.recovery.end?.timeline).toBe(2);
    expect(report.recovery['wal-replayed']).toBeGreaterThan(0);
    expect(report.time.rto).toBeGreaterThan(0);
    expect(report.time.rto).toBeCloseTo((report.time.restore ?? 0) + (report.time.recovery ?? 0), 2);
    expect(report.checks.amcheck?.status).toBe('ok');
    // Recovery stopped at consistency: the rows written after the backup are not there.
    expect(report.checks.tables?.find((table) => table.table === 'small')?.rows).toBe(1000);
    expect(report.path.kept).toBe(false);
    expect(await readdir(drillPath)).toEqual([]);
  }, 300_000);

  it('fails (113) when the query returns another value; drill-keep-failed keeps the directory', async () => {
    // Deep enough that the socket must go under /tmp: that directory goes even when the rest is kept.
    const deep = join(drillPath, 'y'.repeat(80));
    const result = await setup.pgstash([
      'drill',
      `--drill-path=${deep}`,
      '--drill-query=select count(*) from small',
      '--drill-expect=1499',
      '--drill-keep-failed',
      '--log-level-console=info',
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(113);
    expect(result.stdout).toContain("FAILED [113]: drill-query returned '1500', drill-expect is '1499'");
    const kept = /kept for inspection: (\S+) \(data directory (\S+)\)/.exec(result.stdout);
    expect(kept, result.stdout).not.toBeNull();
    const [, scratch, data] = kept ?? [];
    expect((await stat(join(data ?? '', 'PG_VERSION'))).isFile()).toBe(true);
    // Stopped all the same: no server runs in the kept directory.
    await expect(stat(join(data ?? '', 'postmaster.pid'))).rejects.toThrow();
    // The server log is kept with it; the socket directory under /tmp is not.
    expect((await stat(join(scratch ?? '', 'server', 'postgresql.log'))).size).toBeGreaterThan(0);
    const socketDir = socketDirIn(result.stdout);
    expect(await exists(socketDir)).toBe(false);
    await rm(deep, { recursive: true, force: true });
    const info = await setup.pgstashOk(['info']);
    expect(info.stdout).toMatch(/last drill: FAILED \[113\]/);
  }, 300_000);

  it("fails (112) with the server's reason when a WAL segment of the backup is missing", async () => {
    const directory = join(setup.repoPath, 'archive', 'main', '15-1', archiveStart.slice(0, 16));
    const [file] = (await readdir(directory)).filter((name) => name.startsWith(archiveStart));
    expect(file).toBeDefined();
    const aside = join(setup.dir, file ?? '');
    await rename(join(directory, file ?? ''), aside);
    try {
      const result = await setup.pgstash(['drill', `--drill-path=${drillPath}`, '--type=immediate']);
      expect(result.code, result.stdout + result.stderr).toBe(112);
      expect(result.stdout).toMatch(/FAILED \[112\]: the restored server stopped during recovery .*FATAL/);
      expect(await readdir(drillPath)).toEqual([]);
    } finally {
      await rename(aside, join(directory, file ?? ''));
    }
  }, 300_000);

  it('fails (111) when the restored server cannot start', async () => {
    const result = await setup.pgstash([
      'drill',
      `--drill-path=${drillPath}`,
      '--recovery-option=shared_preload_libraries=pgstash_no_such_library',
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(111);
    expect(result.stdout).toMatch(
      /FAILED \[111\]: the restored server could not start .*pgstash_no_such_library/,
    );
    expect(await readdir(drillPath)).toEqual([]);
  }, 300_000);

  it("does not run production's recovery_end_command (the copy's settings that name production's places are overridden)", async () => {
    const marker = join(drillPath, 'recovery-end-ran');
    const result = await setup.pgstash([
      'drill',
      `--drill-path=${drillPath}`,
      '--no-drill-amcheck',
      `--recovery-option=recovery_end_command=touch ${marker}`,
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    await expect(stat(marker)).rejects.toThrow();
  }, 300_000);

  it('restores into a --pg1-path given for the drill, and removes what it restored; refuses a non-empty one', async () => {
    const given = join(drillPath, 'copy');
    const result = await setup.pgstash([
      'drill',
      `--drill-path=${drillPath}`,
      `--pg1-path=${given}`,
      '--no-drill-amcheck',
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/pg_amcheck: skipped \(drill-amcheck=n\)/);
    expect(await readdir(drillPath)).toEqual([]);
    const busy = join(drillPath, 'busy');
    await mkdir(busy);
    await writeFile(join(busy, 'keep-me'), 'mine');
    const refused = await setup.pgstash(['drill', `--drill-path=${drillPath}`, `--pg1-path=${busy}`], {
      as: 'root',
    });
    expect(refused.code).toBe(40);
    expect(refused.stdout + refused.stderr).toContain(
      `drill refuses --pg1-path '${busy}': the directory is not empty`,
    );
    expect(await readFile(join(busy, 'keep-me'), 'utf8')).toBe('mine');
    await rm(busy, { recursive: true });
  }, 300_000);

  it('SIGTERM while the restored server runs: 63, the server stopped and the directory removed', async () => {
    let postmaster: number | undefined;
    const serverRuns = async (): Promise<boolean> => {
      for (const name of await readdir(drillPath)) {
        const pid = Number(
          (await readFile(join(drillPath, name, 'data', 'postmaster.pid'), 'utf8').catch(() => '')).split(
            '\n',
          )[0],
        );
        if (pid > 0) postmaster = pid;
        if (pid > 0) return true;
      }
      return false;
    };
    const args = [
      `--config=${setup.configPath}`,
      `--stanza=${setup.stanza}`,
      'drill',
      `--drill-path=${drillPath}`,
    ];
    const result = await signalWhen(args, serverRuns, 'SIGTERM');
    expect(result, 'the drill ended before its server was caught running').toBeDefined();
    expect(result?.code, `${result?.stdout ?? ''}${result?.stderr ?? ''}`).toBe(63);
    expect(result?.stdout).toContain('FAILED [063]: terminated on signal [SIGTERM]');
    expect(postmaster).toBeDefined();
    expect(processAlive(postmaster ?? 0)).toBe(false);
    expect(await readdir(drillPath)).toEqual([]);
  }, 300_000);

  it('kill -9 while the restored server runs: the next drill stops that server and removes the directory', async () => {
    // Deep enough that the killed drill's socket is under /tmp: the next drill removes that directory too.
    const deep = join(drillPath, 'z'.repeat(80));
    await mkdir(deep);
    await chown(deep, postgresIds().uid, postgresIds().gid);
    let postmaster: number | undefined;
    let scratch: string | undefined;
    const serverRuns = async (): Promise<boolean> => {
      for (const name of await readdir(deep)) {
        const text = await readFile(join(deep, name, 'data', 'postmaster.pid'), 'utf8').catch(() => '');
        const pid = Number(text.split('\n')[0]);
        // The last line of postmaster.pid is the server's state: 'ready' once it accepts connections.
        if (pid > 0 && text.includes('ready')) [postmaster, scratch] = [pid, join(deep, name)];
        if (pid > 0 && text.includes('ready')) return true;
      }
      return false;
    };
    const args = [
      `--config=${setup.configPath}`,
      `--stanza=${setup.stanza}`,
      'drill',
      `--drill-path=${deep}`,
      '--drill-amcheck=n',
    ];
    const killed = await signalWhen(args, serverRuns, 'SIGKILL');
    expect(killed, 'the drill ended before its server was caught running').toBeDefined();
    expect(killed?.signal).toBe('SIGKILL');
    // What kill -9 leaves: the server runs on, in a directory nobody removes.
    expect(processAlive(postmaster ?? 0)).toBe(true);
    const socketDir = await socketDirOf(scratch ?? '');
    expect(await exists(socketDir)).toBe(true);

    const next = await setup.pgstash(['drill', `--drill-path=${deep}`, '--drill-amcheck=n']);
    expect(next.code, next.stdout + next.stderr).toBe(0);
    expect(next.stdout + next.stderr).toContain(`drill: removed '${scratch ?? ''}', left by a drill`);
    expect(next.stdout + next.stderr).toMatch(
      new RegExp(
        `left by a drill \\(process \\d+\\) that ended without cleaning up; stopped its server \\(process ${String(postmaster)}\\)`,
      ),
    );
    expect(processAlive(postmaster ?? 0)).toBe(false);
    expect(await readdir(deep)).toEqual([]);
    expect(await exists(socketDir)).toBe(false);
    await rm(deep, { recursive: true, force: true });
  }, 300_000);

  it("refuses the stanza's own data directory as --pg1-path", async () => {
    const result = await setup.pgstash(['drill', `--pg1-path=${setup.cluster.dataDir}`]);
    expect(result.code).toBe(32);
    expect(result.stderr + result.stdout).toContain('it is or overlaps the data directory of stanza');
    expect(await readdir(drillPath)).toEqual([]);
    expect(await setup.cluster.psql('select 1')).toBe('1');
  }, 60_000);

  it('a drill-path too deep for a unix socket: the socket goes to a private directory under /tmp, removed after', async () => {
    const deep = join(drillPath, 'x'.repeat(80));
    const result = await setup.pgstash([
      'drill',
      `--drill-path=${deep}`,
      '--drill-amcheck=n',
      '--log-level-console=info',
    ]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(await exists(socketDirIn(result.stdout))).toBe(false);
    expect(await readdir(deep)).toEqual([]);
  }, 300_000);
});

describe('drill of a backup holding a damaged page', () => {
  let setup: StanzaSetup;
  let drillPath: string;
  let damagedFile: string;
  let backup: PgstashResult;

  beforeAll(async () => {
    setup = await createStanzaSetup();
    const { cluster } = setup;
    await cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await cluster.psql(
      'create table damaged (i int, t text); insert into damaged select g, md5(g::text) from generate_series(1, 2000) g; checkpoint',
    );
    const relation = await cluster.psql("select pg_relation_filepath('damaged')");
    damagedFile = join(cluster.dataDir, relation);
    // Stopped cleanly, then a page's tuple bytes overwritten: its data checksum no longer matches (initdb -k).
    await cluster.stop();
    const file = await open(join(cluster.dataDir, relation), 'r+');
    try {
      await file.write(Buffer.alloc(64, 0x5a), 0, 64, 4096);
    } finally {
      await file.close();
    }
    await cluster.start();
    // The backup copies the page as it is (and counts it as a page checksum error).
    backup = await setup.pgstash(['backup', '--type=full', '--start-fast']);
    drillPath = join(setup.dir, 'drills');
    await mkdir(drillPath, { mode: 0o700 });
    const { uid, gid } = postgresIds();
    await chown(drillPath, uid, gid);
  }, 300_000);

  afterAll(async () => {
    await setup?.destroy();
  });

  it('the backup warned of the damaged page, naming the file and the page, alone and in a bundle', async () => {
    // The table's file (about 150 kB) is copied alone, then as a member of a bundle (another code path).
    const bundled = await setup.pgstash(['backup', '--type=full', '--start-fast', '--repo1-bundle']);
    for (const result of [backup, bundled]) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain(`invalid page checksums found in file ${damagedFile} at pages 0`);
      expect(result.stderr).toMatch(/found 1 invalid page checksums: see 'pgstash info --set=/);
    }
  });

  it('fails (113) with what pg_amcheck found', async () => {
    const result = await setup.pgstash(['drill', `--drill-path=${drillPath}`, '--type=immediate']);
    expect(result.code, result.stdout + result.stderr).toBe(113);
    expect(result.stdout).toMatch(/FAILED \[113\]: pg_amcheck exit code \d+: .*damaged/);
    expect(result.stdout).toMatch(/pg_amcheck: failed/);
    // The other checks still ran: the damaged table's count failed, and says why.
    expect(result.stdout).toMatch(/postgres\.public\.damaged: count failed \(.*invalid page in block 0/);
    expect(await readdir(drillPath)).toEqual([]);
  }, 300_000);
});
