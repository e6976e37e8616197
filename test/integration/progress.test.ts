// Progress of backup and restore on real PostgreSQL 15: info-level lines in a pipe or log, a live line on a
// terminal (a pseudo-terminal from script(1)), and `info` showing a running backup, and none once it ended or was
// killed with kill -9.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flipMiddleByte } from '../harness/damage.js';
import { exec, type ExecResult } from '../harness/exec.js';
import { PGSTASH_BIN, shellQuote } from '../harness/pgstash.js';
import type { BackgroundPgstash } from '../harness/pgstash-process.js';
import { RestoreBench, verifyBackup } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';

const TABLES = 4;
/** Slow enough to watch (zstd at a high level), on two worker threads: the figures come from both. */
const SLOW = ['--compress-level=12', '--process-max=2', '--progress-interval=1'];
const PROGRESS_LINE = /INFO: backup progress: (\d+\.\d)% of \S+, (\S+\/s|--), ETA (\S+), (\d+)\/(\d+) files$/;
/** The live line as the terminal receives it: carriage return, the figures, erase to the end of the line. */
// eslint-disable-next-line no-control-regex -- ESC [ K, the terminal's erase to the end of the line
const LIVE_LINE = /\r(backup|restore): \d+\.\d% of \S+, \S+, ETA \S+, \d+\/\d+ files[^\r]*\x1b\[K/;
const CLEAR = '\r\x1b[K';

interface InfoJson {
  status: { lock: { backup: { held: boolean; size?: number; 'size-cplt'?: number } } };
  'backup-running': {
    label: string;
    pid: number;
    'this-host': boolean;
    percent: number;
    size: number;
    'size-cplt': number;
    'file-count': number;
    'file-cplt': number;
  } | null;
}

describe('progress', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  /** The progress lines of the watched backup, printed at the end: what a DBA reads in a log. */
  const seen: string[] = [];

  const info = async (): Promise<{ text: string; json: InfoJson }> => {
    const text = (await setup.pgstashOk(['info'])).stdout;
    const [json] = JSON.parse((await setup.pgstashOk(['info', '--output=json'])).stdout) as [InfoJson];
    return { text, json };
  };

  /** Starts a slow full backup in the background and waits until `info` shows it running. */
  async function runningBackup(
    extra: readonly string[] = [],
  ): Promise<{ run: BackgroundPgstash; text: string; json: InfoJson }> {
    const run = setup.spawn(['backup', '--type=full', '--start-fast', ...SLOW, ...extra]);
    let ended = false;
    void run.done.then(() => (ended = true));
    while (!ended) {
      const seen = await info();
      if (seen.json['backup-running'] !== null && seen.text.includes('backup running'))
        return { run, ...seen };
      await sleep(100);
    }
    throw new Error(`the backup ended before info saw it running:\n${(await run.done).stdout}`);
  }

  /** `command` (pgstash arguments) run as postgres under a pseudo-terminal: what the terminal received. */
  function onTerminal(args: readonly string[]): Promise<ExecResult> {
    const command = [
      process.execPath,
      PGSTASH_BIN,
      `--config=${setup.configPath}`,
      `--stanza=${setup.stanza}`,
      ...args,
    ]
      .map(shellQuote)
      .join(' ');
    return exec('script', ['-qfec', command, '/dev/null'], { asPostgres: true, timeoutMs: 300_000 });
  }

  beforeAll(async () => {
    setup = await createStanzaSetup({ cluster: { settings: { autovacuum: 'off' } } });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    // Random hex text: zstd works for it (a table of repeated text would compress in no time).
    const creates = Array.from(
      { length: TABLES },
      (_, i) =>
        `create table t${i} (id int, body text);
         insert into t${i} select g, md5(random()::text) || md5(random()::text) from generate_series(1, 100000) g;`,
    );
    await setup.cluster.psql(creates.join('\n'));
    await setup.cluster.psql('checkpoint');
    // A first backup: the stanza is ok, and the restores below have a backup whatever the other tests did.
    await setup.pgstashOk(['backup', '--type=full', '--start-fast']);
  }, 600_000);

  afterAll(async () => {
    if (seen.length > 0) console.log(seen.join('\n'));
    await restores?.cleanup();
    await setup?.destroy();
  });

  it('backup in a pipe: info-level lines at most once per interval, no live line; info shows it while it runs, not after', async () => {
    const { run, text, json } = await runningBackup(['--log-level-console=info']);
    // Whatever fails below, the backup ends before the next test.
    const result = await run.done;
    const running = json['backup-running'];
    expect(text).toMatch(/status: ok \(backup running - \d+\.\d% complete\)/);
    expect(text).toMatch(
      new RegExp(
        `repo1: backup ${running?.label ?? ''} running \\(pid ${run.pid}\\): \\d+\\.\\d% of \\S+, .*\\d+/\\d+ files, updated \\d+s ago`,
      ),
    );
    expect(running).toMatchObject({ pid: run.pid, 'this-host': true });
    expect(running?.size).toBeGreaterThan(TABLES * 10_000_000);
    expect(running?.['size-cplt']).toBeLessThanOrEqual(running?.size ?? 0);
    expect(running?.['file-cplt']).toBeLessThanOrEqual(running?.['file-count'] ?? 0);
    expect(json.status.lock.backup).toMatchObject({ held: true, size: running?.size });

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout + result.stderr).not.toContain('\r');
    const lines = result.stdout.split('\n').filter((line) => line.includes('backup progress:'));
    expect(lines.length, result.stdout).toBeGreaterThanOrEqual(1);
    seen.push(...lines);
    let previous = 0;
    for (const line of lines) {
      const match = PROGRESS_LINE.exec(line);
      expect(match, line).not.toBeNull();
      const percent = Number(match?.[1]);
      expect(percent).toBeGreaterThanOrEqual(previous);
      expect(percent).toBeLessThanOrEqual(100);
      previous = percent;
      // Sane with two workers counting: no ETA of days, no rate beyond what a disk does, files within the total.
      expect(match?.[3]).not.toBe('>100h');
      expect(match?.[2]).toMatch(/^(--|\d+(\.\d)?(B|KB|MB)\/s)$/);
      expect(Number(match?.[4])).toBeLessThanOrEqual(Number(match?.[5]));
    }
    // The log file has them too, with times: never two within the interval.
    const log = await readFile(join(setup.dir, 'log', `${setup.stanza}-backup.log`), 'utf8');
    const times = log
      .split('\n')
      .filter((line) => line.includes('"backup progress: '))
      .map((line) => Date.parse((JSON.parse(line) as { time: string }).time));
    expect(times.length).toBe(lines.length);
    for (let i = 1; i < times.length; i++)
      expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBeGreaterThanOrEqual(950);

    const after = await info();
    expect(after.json['backup-running']).toBeNull();
    expect(after.json.status.lock.backup.held).toBe(false);
    expect(after.text).not.toMatch(/running/);
  });

  it('a backup killed with kill -9 leaves its last record, which info does not present as running', async () => {
    const { run } = await runningBackup();
    run.kill('SIGKILL');
    expect((await run.done).signal).toBe('SIGKILL');
    const labels = (await exec('ls', [join(setup.repoPath, 'backup', setup.stanza)])).stdout.split('\n');
    const left =
      labels
        .filter((name) => /^\d{8}-\d{6}F$/.test(name))
        .sort()
        .at(-1) ?? '';
    // The record is there: what info judges is whether its backup still runs.
    await access(join(setup.repoPath, 'backup', setup.stanza, left, 'backup.progress'));
    const after = await info();
    expect(after.json['backup-running']).toBeNull();
    expect(after.json.status.lock.backup.held).toBe(false);
    expect(after.text).not.toMatch(/running/);
  });

  it('backup on a terminal: a live line rewritten in place and cleared before the report', async () => {
    const result = await onTerminal(['backup', '--type=full', '--start-fast', '--process-max=2']);
    expect(result.code, result.stdout).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(LIVE_LINE);
    const report = out.search(/backup \d{8}-\d{6}F complete/);
    expect(report).toBeGreaterThan(0);
    expect(out.lastIndexOf(CLEAR)).toBeGreaterThan(out.lastIndexOf('\rbackup: '));
    expect(out.lastIndexOf(CLEAR)).toBeLessThan(report);
    // The line never wraps into the report: what follows the clear is the report itself.
    expect(
      out
        .slice(out.lastIndexOf(CLEAR) + CLEAR.length)
        .trimStart()
        .startsWith('backup '),
    ).toBe(true);
  });

  it('restore and restore --delta on a terminal: the live line, checked and rewritten files for --delta; none with log-level-console=error', async () => {
    const dataDir = join(await restores.tempDir('restore'), 'data');
    const restored = await onTerminal(['restore', `--pg1-path=${dataDir}`]);
    expect(restored.code, restored.stdout).toBe(0);
    expect(restored.stdout).toMatch(LIVE_LINE);
    expect(restored.stdout.lastIndexOf(CLEAR)).toBeLessThan(restored.stdout.indexOf('restored backup set'));

    await flipMiddleByte(join(dataDir, 'PG_VERSION'), 0x01);
    const delta = await onTerminal(['restore', '--delta', `--pg1-path=${dataDir}`]);
    expect(delta.code, delta.stdout).toBe(0);
    expect(delta.stdout).toMatch(
      /\rrestore: \d+\.\d% of \S+, \S+, ETA \S+, \d+\/\d+ files checked, \d+ rewritten/,
    );
    expect(delta.stdout).toMatch(/delta: \d+ files kept .*, 2 written/);
    expect((await verifyBackup(dataDir)).code).toBe(0);

    const quiet = await onTerminal([
      'restore',
      '--delta',
      `--pg1-path=${dataDir}`,
      '--log-level-console=error',
    ]);
    expect(quiet.code, quiet.stdout).toBe(0);
    // The terminal ends lines with \r\n: no other carriage return.
    expect(quiet.stdout).not.toMatch(/\r(?!\n)/);
  });
});
