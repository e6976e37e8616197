// Backup resume on real PostgreSQL 15: a full killed (kill -9, SIGTERM) or failed mid-copy leaves its directory;
// the next full keeps the files it can prove and copies the rest, and restores exactly. A damaged stored copy or
// a source changed since is copied again; --no-resume and a change of compression start afresh.
import { chmod, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelDirs, listedLabels } from '../harness/backups.js';
import { flipMiddleByte } from '../harness/damage.js';
import { backupDir as backupDirOf, interruptBackup, treeBytes } from '../harness/interrupt.js';
import { RestoreBench } from '../harness/restore.js';
import { fiveMegabyteTables, settleMtimes, tablesContentQuery } from '../harness/resume-tables.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';

const TABLES = 60;
const COMPLETE = /backup (\d{8}-\d{6}F) complete in ([0-9.]+) s/;
const RESUMED = /resumed: kept (\d+) files, .*\((\d+) bytes\); copied (\d+) files, .*\((\d+) bytes\)/;

interface Resumed {
  readonly label: string;
  readonly seconds: number;
  readonly keptFiles: number;
  readonly keptBytes: number;
  readonly copiedFiles: number;
  readonly copiedBytes: number;
  readonly output: string;
}

describe('backup resume', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let dataBytes = 0;
  let known: string[] = [];
  const timings: string[] = [];

  const backupDir = (label: string) => backupDirOf(setup, label);

  /** Starts a full backup and stops it (`signal`) once its directory holds `fraction` of the data's bytes. */
  async function interrupt(
    signal: NodeJS.Signals,
    fraction = 0.7,
    args: readonly string[] = [],
  ): Promise<string> {
    const { label, result } = await interruptBackup(setup, {
      signal,
      args,
      ready: async (_, dir) => (await treeBytes(dir)) >= fraction * dataBytes,
    });
    if (signal === 'SIGKILL') expect(result.signal).toBe('SIGKILL');
    else expect(result.code, result.stderr).not.toBe(0);
    expect(await labelDirs(setup)).toContain(label);
    expect(await listedLabels(setup)).toEqual(known);
    return label;
  }

  async function backupAfter(args: readonly string[] = []): Promise<Resumed & { resumed: boolean }> {
    const result = await setup.pgstashOk([
      'backup',
      '--type=full',
      '--start-fast',
      '--process-max=1',
      '--log-level-console=detail',
      ...args,
    ]);
    const output = result.stdout + result.stderr;
    const complete = COMPLETE.exec(output);
    expect(complete, output).not.toBeNull();
    const label = complete![1]!;
    known = [...known, label];
    const resumed = RESUMED.exec(output);
    return {
      label,
      seconds: Number(complete![2]),
      resumed: resumed !== null,
      keptFiles: Number(resumed?.[1] ?? 0),
      keptBytes: Number(resumed?.[2] ?? 0),
      copiedFiles: Number(resumed?.[3] ?? 0),
      copiedBytes: Number(resumed?.[4] ?? 0),
      output,
    };
  }

  /** Restores `label`, checks it with pg_verifybackup, starts it and compares the data with the source's. */
  async function restoreExact(label: string): Promise<void> {
    const expected = await setup.cluster.psql(tablesContentQuery(TABLES));
    const { dataDir, result } = await restores.restore([`--set=${label}`]);
    expect(result.stdout).toContain(`restored backup set ${label}`);
    const restored = await restores.start(dataDir);
    await restored.waitForRecoveryEnd();
    expect(await restored.psql(tablesContentQuery(TABLES))).toBe(expected);
    await restores.stopServers();
  }

  const settle = (): Promise<void> => settleMtimes(setup.cluster);

  beforeAll(async () => {
    setup = await createStanzaSetup({
      compressType: 'none',
      cluster: { settings: { autovacuum: 'off', max_wal_size: '1GB' } },
    });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    // Many files of about 5 MB: the copy finishes one every few milliseconds, so the journal keeps up with it.
    await setup.cluster.psql(fiveMegabyteTables(TABLES));
    await setup.cluster.psql('vacuum analyze');
    await settle();
  }, 600_000);

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
    if (timings.length > 0) console.log(timings.join('\n'));
  });

  it('a fresh full, for comparison', async () => {
    const fresh = await backupAfter();
    expect(fresh.resumed).toBe(false);
    // What a full stores (without compression: what it copies): what the interruptions measure against.
    dataBytes = await treeBytes(backupDir(fresh.label));
    timings.push(`fresh full: ${fresh.seconds} s, ${dataBytes} bytes stored`);
  });

  it('kill -9 at ~70%: the next full keeps its label, copies at most 40% and restores exactly', async () => {
    await settle();
    const left = await interrupt('SIGKILL');
    const next = await backupAfter();
    expect(next.resumed, next.output).toBe(true);
    expect(next.label).toBe(left);
    const total = next.keptBytes + next.copiedBytes;
    expect(next.copiedBytes / total, next.output).toBeLessThanOrEqual(0.4);
    timings.push(
      `resumed after kill -9: ${next.seconds} s, copied ${next.copiedBytes} of ${total} bytes (${((100 * next.copiedBytes) / total).toFixed(1)}%)`,
    );
    await restoreExact(next.label);
  });

  it('SIGTERM at ~70%: the backup fails, keeps its files, and the next full resumes it', async () => {
    await settle();
    const left = await interrupt('SIGTERM');
    const next = await backupAfter();
    expect(next.label).toBe(left);
    expect(next.copiedBytes / (next.keptBytes + next.copiedBytes), next.output).toBeLessThanOrEqual(0.4);
    await restoreExact(next.label);
  });

  it('an error mid-copy (an unreadable file): the next full resumes it', async () => {
    // A small file: the copy goes largest first, so it fails late, with most files stored.
    await setup.cluster.psql('create table tiny (id int); insert into tiny values (1)');
    await settle();
    const small = join(
      setup.cluster.dataDir,
      await setup.cluster.psql("select pg_relation_filepath('tiny')"),
    );
    await chmod(small, 0o000);
    let failed;
    try {
      failed = await setup.pgstash(['backup', '--type=full', '--start-fast', '--process-max=1']);
    } finally {
      await chmod(small, 0o600);
    }
    expect(failed.code, failed.stderr).not.toBe(0);
    expect(failed.stderr).toContain('kept for the next backup to resume');
    const left = (await labelDirs(setup)).find((name) => !known.includes(name));
    expect(left).toBeDefined();
    const next = await backupAfter();
    expect(next.label).toBe(left);
    expect(next.copiedBytes / (next.keptBytes + next.copiedBytes), next.output).toBeLessThanOrEqual(0.4);
    await restoreExact(next.label);
  });

  it('a damaged stored copy and a source changed since are copied again', async () => {
    await settle();
    const left = await interrupt('SIGKILL');
    // Two table files the interrupted backup recorded as stored: one changes since, the other's copy is damaged.
    const partial = JSON.parse(await readFile(join(backupDir(left), 'backup.manifest.partial'), 'utf8')) as {
      content: { files: { name: string }[] };
    };
    const recorded = new Set(partial.content.files.map((file) => file.name));
    const tables = (
      await setup.cluster.psql(
        "select relname || ' ' || pg_relation_filepath(oid) from pg_class where relname ~ '^t[0-9]+$'",
      )
    )
      .split('\n')
      .map((line) => line.split(' ') as [string, string])
      .filter(([, path]) => recorded.has(`pg_data/${path}`));
    expect(tables.length, 'the interrupted backup recorded no table').toBeGreaterThanOrEqual(2);
    const [[changedTable, changed], [, damaged]] = tables as [[string, string], [string, string]];
    await setup.cluster.psql(`update ${changedTable} set body = 'changed' where id <= 100; checkpoint`);
    await flipMiddleByte(join(backupDir(left), 'pg_data', damaged), 0x10);
    const next = await backupAfter();
    expect(next.label).toBe(left);
    expect(next.keptFiles).toBeGreaterThan(0);
    expect(next.output).toContain(`copy 'pg_data/${changed}' again`);
    expect(next.output).toContain(`copy 'pg_data/${damaged}' again`);
    await restoreExact(next.label);
  });

  it('--no-resume removes the leftover and starts afresh', async () => {
    await settle();
    const left = await interrupt('SIGKILL');
    const next = await backupAfter(['--no-resume']);
    expect(next.resumed).toBe(false);
    expect(next.label).not.toBe(left);
    expect(next.output).toContain(`removing incomplete backup '${left}'`);
    expect(next.output).toContain('resume is disabled');
    expect(await labelDirs(setup)).not.toContain(left);
  });

  it('a leftover stored with another compression is not resumed, and is removed saying why', async () => {
    await settle();
    const left = await interrupt('SIGKILL');
    const next = await backupAfter(['--compress-type=lz4']);
    expect(next.resumed).toBe(false);
    expect(next.label).not.toBe(left);
    expect(next.output).toContain(`backup '${left}' in repo1 cannot be resumed: its compression (none`);
    expect(await labelDirs(setup)).not.toContain(left);
    await restoreExact(next.label);
  });

  it('with block incremental (repo1-block=y): kill -9 at ~70%, the next full keeps the block-stored files that verify', async () => {
    await settle();
    const left = await interrupt('SIGKILL', 0.7, ['--repo1-block']);
    const next = await backupAfter(['--repo1-block']);
    expect(next.resumed, next.output).toBe(true);
    expect(next.label).toBe(left);
    expect(next.keptFiles).toBeGreaterThan(0);
    expect(next.copiedBytes / (next.keptBytes + next.copiedBytes), next.output).toBeLessThanOrEqual(0.4);
    // The kept files are stored as blocks: each has its block map beside its data.
    const maps = await readdir(join(backupDir(next.label), 'block-map'), { recursive: true });
    expect(maps.length).toBeGreaterThan(0);
    await restoreExact(next.label);
  });
});
