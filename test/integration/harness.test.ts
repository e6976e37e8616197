// Proves the test harness on a real PostgreSQL 15: start, SQL, restart, a pg_basebackup copy on its own port.
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PgCluster } from '../harness/cluster.js';
import { exec, processAlive } from '../harness/exec.js';
import { freePort } from '../harness/ports.js';
import { assertPostgresCanRead, postgresIds } from '../harness/postgres-user.js';
import { pendingCleanups, runProcessExitCleanups } from '../harness/reaper.js';
import { createTempDir, removeAllTempDirs, removeTempDir } from '../harness/tmp.js';
import { PGSTASH_BIN, REPO_ROOT, pgstashCommandLine, runPgstash, shellQuote } from '../harness/pgstash.js';

describe('harness processes and ports', () => {
  test('exec runs a program as postgres with the explicit environment', async () => {
    const result = await exec('sh', ['-c', 'id -un; echo "$FOO"; echo "$NODE_OPTIONS"'], {
      asPostgres: true,
      env: { FOO: 'bar' },
    });
    expect(result).toMatchObject({ code: 0, stdout: 'postgres\nbar\n\n' });
  });

  test('exec reports a non-zero exit instead of throwing', async () => {
    const result = await exec('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    expect(result).toEqual({ code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });
  });

  test('assertPostgresCanRead names the directory that keeps the postgres user out', async () => {
    const privateDir = await createTempDir({ owner: 'root', label: 'private' });
    const file = join(privateDir, 'inner', 'cli.js');
    await mkdir(dirname(file), { mode: 0o755 });
    await writeFile(file, '', { mode: 0o644 });
    expect(() => assertPostgresCanRead(file)).toThrow(
      new RegExp(`cannot read '${file}': directory '${privateDir}' does not let others traverse it`),
    );
    await chmod(privateDir, 0o711);
    expect(() => assertPostgresCanRead(file)).not.toThrow();
    await chmod(file, 0o600);
    expect(() => assertPostgresCanRead(file, { execute: true })).toThrow(/the file itself is not executable/);
  });

  test('freePort hands out distinct ports that can be bound', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    expect(new Set(ports).size).toBe(3);
    for (const port of ports) expect(port).toBeGreaterThan(1024);
  });

  test('createTempDir makes a private postgres-owned directory', async () => {
    const dir = await createTempDir({ label: 'probe' });
    const info = await stat(dir);
    expect(dir).toMatch(new RegExp(`/pgstash-test-${process.pid}-probe-[^/]+$`));
    expect(info.uid).toBe(postgresIds().uid);
    expect(info.mode & 0o777).toBe(0o700);
    await removeAllTempDirs();
    expect(existsSync(dir)).toBe(false);
  });
});

describe('test directory leak check', () => {
  test('a test file that leaves a test directory behind fails, naming it, and the directory is removed', async () => {
    const tmp = await createTempDir({ owner: 'root', label: 'leak-check' });
    try {
      const config = join(REPO_ROOT, 'test', 'fixtures', 'leak-check', 'vitest.config.ts');
      const vitest = join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
      const result = await exec(process.execPath, [vitest, 'run', '--config', config, '--reporter=json'], {
        cwd: REPO_ROOT,
        env: { TMPDIR: tmp },
      });
      expect(result.code, result.stdout + result.stderr).toBe(1);
      // The report CI counts (scripts/count-results.ts): the test passed, its file failed, naming the directory.
      const report = JSON.parse(result.stdout) as {
        testResults: { status: string; message: string; assertionResults: { status: string }[] }[];
      };
      const [file] = report.testResults;
      expect(file?.assertionResults.map((test) => test.status)).toEqual(['passed']);
      expect(file?.status).toBe('failed');
      expect(file?.message).toMatch(
        new RegExp(`^this test file left 1 test directory in '${tmp}': pgstash-test-\\d+-forgotten-\\w+;`),
      );
      expect(await readdir(tmp)).toEqual([]);
    } finally {
      await removeTempDir(tmp);
    }
  });
});

describe('PgCluster on a real server', () => {
  let primary: PgCluster;
  let copy: PgCluster | undefined;

  beforeAll(async () => {
    primary = await PgCluster.create({ walSegmentSizeMb: 32, settings: { work_mem: '7MB' } });
  });

  afterAll(async () => {
    await copy?.destroy();
    await primary?.destroy();
    await removeAllTempDirs();
  });

  test('starts, runs SQL, and applies initdb options and settings', async () => {
    await primary.start();
    expect(primary.pid).toBeDefined();
    expect(processAlive(primary.pid ?? 0)).toBe(true);
    await primary.psql(
      'create table t (id int primary key, note text); insert into t select i, md5(i::text) from generate_series(1, 1000) i',
    );
    expect(await primary.psql('select count(*), max(id) from t')).toBe('1000|1000');
    expect(await primary.psql('show data_checksums')).toBe('on');
    expect(await primary.psql('show wal_segment_size')).toBe('32MB');
    expect(await primary.psql('show work_mem')).toBe('7MB');
    expect(await primary.psql('show listen_addresses')).toBe('');
    expect(await primary.psql('show port')).toBe(String(primary.port));
    expect(existsSync(join(primary.socketDir, `.s.PGSQL.${String(primary.port)}`))).toBe(true);
  });

  test('psql rejects with the server error', async () => {
    await expect(primary.psql('select * from no_such_table')).rejects.toThrow(/no_such_table/);
  });

  test('appendConfig and reload change a setting', async () => {
    await primary.appendConfig({ work_mem: '9MB', log_line_prefix: "[%p] it's %m " });
    await primary.reload();
    // pg_ctl reload only signals: the postmaster rereads the file shortly after.
    for (let i = 0; i < 50 && (await primary.psql('show work_mem')) !== '9MB'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await primary.psql('show work_mem')).toBe('9MB');
    expect(await primary.psql('show log_line_prefix')).toBe("[%p] it's %m");
  });

  test('stops, restarts, and keeps its data', async () => {
    const firstPid = primary.pid ?? 0;
    await primary.stop();
    expect(await primary.isRunning()).toBe(false);
    expect(processAlive(firstPid)).toBe(false);
    await expect(primary.psql('select 1')).rejects.toThrow();
    await primary.start();
    expect(primary.pid).not.toBe(firstPid);
    expect(await primary.psql('select count(*) from t')).toBe('1000');
    await expect(primary.start()).rejects.toThrow(/already runs/);
    const secondPid = primary.pid ?? 0;
    await primary.restart();
    expect(processAlive(secondPid)).toBe(false);
    expect(await primary.psql('select count(*) from t')).toBe('1000');
    expect(await primary.logTail(5)).not.toBe('');
  });

  test('a pg_basebackup copy starts from its data dir on its own port and has the data', async () => {
    const copyDir = join(await createTempDir({ label: 'copy' }), 'data');
    await primary.runTool('pg_basebackup', ['-D', copyDir, '-X', 'stream', '-c', 'fast']);
    await primary.psql('insert into t values (1001, $$after the backup$$)');

    copy = await PgCluster.fromDataDir(copyDir);
    expect(copy.port).not.toBe(primary.port);
    expect(copy.socketDir).not.toBe(primary.socketDir);
    await copy.start();
    // Both servers run at the same time, each on its own socket.
    expect(await copy.psql('select count(*), max(id) from t')).toBe('1000|1000');
    expect(await copy.psql('show port')).toBe(String(copy.port));
    await copy.psql('insert into t values (5000, $$only in the copy$$)');
    expect(await primary.psql('select count(*) from t where id = 5000')).toBe('0');
    expect(await primary.psql('select count(*) from t')).toBe('1001');
    await copy.stop();
  });

  test('waitForRecoveryEnd waits out archive recovery of the copy', async () => {
    if (copy === undefined) throw new Error('the previous test did not make the copy');
    const copyDir = copy.dataDir;
    await copy.destroy();
    // Archive recovery with an archive that has nothing: replays pg_wal, then promotes to timeline 2.
    await writeFile(join(copyDir, 'recovery.signal'), '');
    copy = await PgCluster.fromDataDir(copyDir, { settings: { restore_command: 'false' } });
    await copy.start();
    await copy.waitForRecoveryEnd(120);
    expect(await copy.psql('select pg_is_in_recovery()')).toBe('f');
    expect(await copy.psql('select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)')).toBe('00000002');
    expect(await copy.psql('select count(*) from t where id = 5000')).toBe('1');
    expect(await copy.logTail(200)).toMatch(/selected new timeline ID: 2/);
  });

  test('a start that fails rejects with the tail of the server log', async () => {
    if (copy === undefined) throw new Error('the previous test did not make the copy');
    const copyDir = copy.dataDir;
    await copy.destroy();
    copy = await PgCluster.fromDataDir(copyDir, { settings: { shared_buffers: 'plenty' } });
    await expect(copy.start({ timeoutSec: 30 })).rejects.toThrow(
      /invalid value for parameter "shared_buffers"/,
    );
    expect(await copy.isRunning()).toBe(false);
  });

  test('the exit safety net stops a server a test left running', async () => {
    if (copy === undefined) throw new Error('the previous test did not make the copy');
    const copyDir = copy.dataDir;
    await copy.destroy();
    copy = await PgCluster.fromDataDir(copyDir);
    await copy.start();
    const pid = copy.pid ?? 0;
    expect(processAlive(pid)).toBe(true);
    expect(pendingCleanups('server')).toBe(2);
    // What process exit does; it also removes the temp dirs still registered.
    runProcessExitCleanups();
    expect(processAlive(pid)).toBe(false);
    expect(await primary.isRunning()).toBe(false);
    expect(existsSync(primary.baseDir)).toBe(false);
    expect(pendingCleanups('server')).toBe(0);
    expect(pendingCleanups('dir')).toBe(0);
  });
});

describe('pgstash CLI runner', () => {
  test('builds a shell command line with absolute node and bin/pgstash', () => {
    const line = pgstashCommandLine('/etc/pgstash/pg stash.conf');
    expect(line).toBe(`${shellQuote(process.execPath)} ${PGSTASH_BIN} '--config=/etc/pgstash/pg stash.conf'`);
    expect(PGSTASH_BIN.startsWith('/')).toBe(true);
  });

  test('runs the CLI as root and as postgres, returning non-zero exits', async () => {
    for (const as of ['root', 'postgres'] as const) {
      const help = await runPgstash(['--help'], { as });
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/pgstash/);
      const bad = await runPgstash(['--no-such-option-at-all'], { as });
      expect(bad.code).not.toBe(0);
      expect(bad.code).not.toBeNull();
      expect(bad.stderr).not.toBe('');
    }
  });

  test('the CLI child runs under the same node as the tests', async () => {
    const result = await exec('node', ['--version'], { asPostgres: true });
    expect(result.stdout.trim()).toBe(process.version);
  });
});
