// expire on real PostgreSQL 15: count retention with a pinned backup, exact backups and WAL left, --dry-run changing
// nothing, an expire stopped between its steps (info right, retained backups restorable and started, the next expire
// finishing), the expire that ends every backup, annotations and pins through annotate and info, bad input, and the
// backup history (a manifest copy every backup writes, kept until repo-retention-history removes it).
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository } from '../../src/repo/repository.js';
import { labelDirs, listedLabels, takeBackup } from '../harness/backups.js';
import type { BackgroundPgstash } from '../harness/pgstash-process.js';
import { RestoreBench, verifyBackup } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { switchWal, waitArchived } from '../harness/wal.js';
import { repoOptions } from '../harness/repository.js';

interface InfoBackup {
  label: string;
  archive: { start: string; stop: string };
  pinned: boolean;
  annotation: Record<string, string>;
}

describe('expire', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  const labels: string[] = [];

  /** Every WAL segment name (24 digits) in the archive: segments, partial and backup files by their segment. */
  async function archivedSegments(): Promise<string[]> {
    const root = join(setup.repoPath, 'archive', setup.stanza, '15-1');
    const names = new Set<string>();
    for (const dir of await readdir(root)) {
      if (!/^[0-9A-F]{16}$/.test(dir)) continue;
      for (const file of await readdir(join(root, dir))) names.add(file.slice(0, 24));
    }
    return [...names].sort();
  }

  /** Every path in the repository, for "nothing changed". */
  async function repoTree(dir = setup.repoPath): Promise<string[]> {
    const paths: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      paths.push(path);
      if (entry.isDirectory()) paths.push(...(await repoTree(path)));
    }
    return paths.sort();
  }

  async function infoBackups(): Promise<InfoBackup[]> {
    const info = await setup.pgstashOk(['info', '--output=json']);
    return (JSON.parse(info.stdout) as [{ backup: InfoBackup[] }])[0].backup;
  }

  /** A row, a WAL switch archived, then a full backup (with `args`). */
  async function backupAfterWrites(args: readonly string[] = []): Promise<string> {
    await setup.cluster.psql(`insert into t values (${labels.length + 1})`);
    await waitArchived(setup, await switchWal(setup));
    const label = await takeBackup(setup, args);
    labels.push(label);
    return label;
  }

  beforeAll(async () => {
    setup = await createStanzaSetup({ walSegmentSizeMb: 1 });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql('create table t (id int)');
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  it('without retention-full a backup and expire warn and expire nothing; --annotation is recorded', async () => {
    await setup.cluster.psql('insert into t values (0)');
    const run = await setup.pgstashOk([
      'backup',
      '--start-fast',
      '--annotation=reason=first',
      '--annotation=ticket=42',
    ]);
    labels.push(/backup (\d{8}-\d{6}F) complete/.exec(run.stdout)?.[1] ?? '');
    expect(`${run.stdout}${run.stderr}`).toContain(
      "option 'repo1-retention-full' is not set for 'repo1-retention-full-type=count', the repository may run out of space",
    );
    for (let i = 0; i < 3; i++) await backupAfterWrites();
    expect(await listedLabels(setup)).toEqual(labels);
    // expire on its own says the same, and removes nothing (as pgBackRest).
    const alone = await setup.pgstashOk(['expire']);
    expect(`${alone.stdout}${alone.stderr}`).toContain(
      "WARN: option 'repo1-retention-full' is not set for 'repo1-retention-full-type=count', the repository may " +
        'run out of space: no backup is expired',
    );
    expect(await listedLabels(setup)).toEqual(labels);
    expect((await infoBackups())[0]?.annotation).toEqual({ reason: 'first', ticket: '42' });
  });

  it('annotate changes, removes and pins; info shows it; a missing set is 75', async () => {
    const [f1, f2] = labels as [string, string];
    await setup.pgstashOk(['annotate', `--set=${f1}`, '--annotation=ticket=', '--annotation=owner=dba']);
    await setup.pgstashOk(['annotate', `--set=${f2}`, '--pin']);
    const backups = await infoBackups();
    expect(backups[0]?.annotation).toEqual({ reason: 'first', owner: 'dba' });
    expect(backups.map((backup) => backup.pinned)).toEqual([false, true, false, false]);
    const text = await setup.pgstashOk(['info']);
    expect(text.stdout).toContain('annotation(s): reason: first, owner: dba');
    expect(text.stdout).toContain('pinned: yes');
    const missing = await setup.pgstash(['annotate', '--set=20200101-000000F', '--pin']);
    expect(missing.code).toBe(75);
    expect(missing.stdout + missing.stderr).toContain("backup set '20200101-000000F' does not exist");
  });

  it('refuses retention values out of range in one line naming the option', async () => {
    for (const [arg, text] of [
      ['--repo1-retention-full=0', 'repo1-retention-full'],
      ['--repo1-retention-full=10000000', 'repo1-retention-full'],
      ['--repo1-retention-diff=0', 'repo1-retention-diff'],
      ['--repo1-retention-archive=-1', 'repo1-retention-archive'],
      ['--repo1-retention-full-type=weeks', 'repo1-retention-full-type'],
      ['--repo1-retention-archive-type=all', 'repo1-retention-archive-type'],
      ['--repo1-retention-history=-1', 'repo1-retention-history'],
      ['--repo1-retention-daily=0', 'repo1-retention-daily'],
    ] as const) {
      const result = await setup.pgstash(['expire', arg]);
      expect(result.code, arg).toBe(32);
      // One line naming the value and the option (then where it was set).
      const value = arg.slice(arg.indexOf('=') + 1);
      expect(result.stderr, arg).toMatch(
        new RegExp(`^ERROR: \\[032\\]: '${value}' is .* for '${text}' option: .+\n`),
      );
    }
    // A time zone Intl does not know: named with this repository's option.
    const zone = await setup.pgstash([
      'expire',
      '--repo1-retention-daily=3',
      '--repo1-retention-time-zone=Mars/Phobos',
    ]);
    expect(zone.code).toBe(32);
    expect(zone.stderr).toContain(`'Mars/Phobos' is not a time zone for 'repo1-retention-time-zone' option`);
    expect(await listedLabels(setup)).toEqual(labels);
  });

  it('--dry-run says what it would remove and changes nothing', async () => {
    const [f1, , f3] = labels as [string, string, string];
    const before = await repoTree();
    const run = await setup.pgstashOk(['expire', '--repo1-retention-full=1', '--dry-run']);
    expect(run.stdout).toContain(`repo1: expire full backup ${f1} (dry-run)`);
    expect(run.stdout).toContain(`repo1: expire full backup ${f3} (dry-run)`);
    expect(run.stdout).toMatch(
      /repo1: 15-1 remove archive, start = [0-9A-F]{24}, stop = [0-9A-F]{24} \(dry-run\)/,
    );
    expect(await repoTree()).toEqual(before);
  });

  it('an expire stopped between its steps leaves info right and the backups restorable; the next one finishes', async () => {
    const [f1, f2, f3, f4] = labels as [string, string, string, string];
    const segmentsBefore = await archivedSegments();
    // A directory the repository's owner cannot empty: removing f1's files fails after its backup.info entry is
    // gone, as a kill -9 there would leave it (f3 goes first: the newest of the expired first).
    const blocker = join(setup.repoPath, 'backup', setup.stanza, f1, 'zz-blocker');
    await mkdir(blocker);
    await writeFile(join(blocker, 'file'), 'x');
    await chmod(blocker, 0o555);
    const stopped = await setup.pgstash(['expire', '--repo1-retention-full=1']);
    expect(stopped.code).not.toBe(0);
    expect(await listedLabels(setup)).toEqual([f2, f4]);
    expect(await labelDirs(setup)).toEqual([f1, f2, f4]);
    expect(await archivedSegments()).toEqual(segmentsBefore);

    // The pinned backup restores to consistency and starts.
    const { dataDir } = await restores.restore([
      `--set=${f2}`,
      '--type=immediate',
      '--target-action=promote',
    ]);
    const server = await restores.start(dataDir);
    expect(await server.psql('select count(*) from t')).toBe('2');
    await restores.stopServers();

    await rm(blocker, { recursive: true, force: true });
    const finished = await setup.pgstashOk(['expire', '--repo1-retention-full=1']);
    expect(finished.stdout).toContain(`repo1: remove expired backup ${f1}`);
    expect(await labelDirs(setup)).toEqual([f2, f4]);
    // Exactly the pinned f2's start to stop, and everything from f4's start on.
    const [b2, b4] = (await infoBackups()) as [InfoBackup, InfoBackup];
    expect(await archivedSegments()).toEqual(
      segmentsBefore.filter(
        (name) => (name >= b2.archive.start && name <= b2.archive.stop) || name >= b4.archive.start,
      ),
    );
    expect(segmentsBefore.length - (await archivedSegments()).length).toBeGreaterThan(0);
    void f3;

    // Both retained backups restore and start: f4 replaying to the end of the archive.
    const latest = await restores.restore([`--set=${f4}`]);
    const latestServer = await restores.start(latest.dataDir);
    expect(await latestServer.psql('select count(*) from t')).toBe('4');
    await restores.stopServers();
  });

  it('a pinned backup is refused by --set; unpinned, the expire that ends a backup removes it', async () => {
    const [, f2, , f4] = labels as [string, string, string, string];
    const refused = await setup.pgstash(['expire', `--set=${f2}`]);
    expect(refused.code).toBe(75);
    expect(refused.stdout + refused.stderr).toContain('is pinned');
    await setup.pgstashOk(['annotate', `--set=${f2}`, '--unpin']);
    const f5 = await backupAfterWrites(['--repo1-retention-full=2']);
    expect(await listedLabels(setup)).toEqual([f4, f5]);
    expect(await labelDirs(setup)).toEqual([f4, f5]);
    const [b4] = (await infoBackups()) as [InfoBackup];
    expect((await archivedSegments())[0]).toBe(b4.archive.start);
  });

  it('keeps the files of a backup a running restore reads; the next expire removes them', async () => {
    const f4 = labels[3] as string;
    await backupAfterWrites();
    const lockDir = join(setup.dir, 'lock');
    let frozen: BackgroundPgstash | undefined;
    let dataDir = '';
    for (let attempt = 0; attempt < 5 && frozen === undefined; attempt++) {
      dataDir = join(await restores.tempDir('reading'), 'data');
      const run = setup.spawn(['restore', `--set=${f4}`, `--pg1-path=${dataDir}`]);
      let ended = false;
      void run.done.then(() => (ended = true));
      // Frozen once it copies (it has read backup.info and the manifest): its marker is in lock-path.
      while (!ended && !existsSync(join(dataDir, 'PG_VERSION'))) await sleep(1);
      if (ended) continue;
      run.kill('SIGSTOP');
      frozen = run;
    }
    if (frozen === undefined) throw new Error('the restore always ended before it could be frozen');
    expect((await readdir(lockDir)).some((name) => name.startsWith(`${setup.stanza}-restore-`))).toBe(true);
    const expired = await setup.pgstashOk(['expire', `--set=${f4}`]);
    expect(expired.stdout + expired.stderr).toContain('a restore of stanza');
    expect(await listedLabels(setup)).not.toContain(f4);
    expect(await labelDirs(setup)).toContain(f4);
    frozen.kill('SIGCONT');
    const restored = await frozen.done;
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    expect((await verifyBackup(dataDir)).code).toBe(0);
    await setup.pgstashOk(['expire', '--repo1-retention-full=9']);
    expect(await labelDirs(setup)).not.toContain(f4);
  });

  it('calendar retention from the command line: daily=1 keeps only the newest full of today', async () => {
    const listed = await listedLabels(setup);
    expect(listed.length).toBeGreaterThan(1);
    const run = await setup.pgstashOk(['expire', '--repo1-retention-daily=1', '--dry-run']);
    for (const label of listed.slice(0, -1))
      expect(run.stdout).toContain(`repo1: expire calendar backup ${label} (dry-run)`);
    expect(run.stdout).not.toContain(listed.at(-1));
    const zone = await setup.pgstash([
      'expire',
      '--repo1-retention-daily=1',
      '--repo1-retention-time-zone=Nowhere/None',
    ]);
    expect(zone.code).toBe(32);
    expect(await listedLabels(setup)).toEqual(listed);
  });

  it('backup.history: every backup left its manifest, kept after expire until repo-retention-history removes it', async () => {
    const repo = await Repository.open(repoOptions(setup.repoPath), setup.stanza);
    const listed = await listedLabels(setup);
    expect(listed.length).toBeLessThan(labels.length);
    // Unset: the history of the backups expired above stays (pgBackRest keeps it forever too).
    const entries = await repo.backups.history.list();
    expect(entries.map((entry) => entry.label)).toEqual(labels);
    for (const entry of entries) {
      expect(entry.name).toBe(`${entry.label}.manifest.zst`);
      const manifest = await repo.backups.history.manifest(entry.label);
      expect(manifest.backup.label).toBe(entry.label);
      expect(manifest.files.some((file) => file.name === 'pg_data/PG_VERSION')).toBe(true);
      if (listed.includes(entry.label)) expect(manifest).toEqual(await repo.backups.manifest(entry.label));
    }
    const kept = await setup.pgstashOk(['expire', '--repo1-retention-full=9', '--repo1-retention-history=9']);
    expect(kept.stdout).not.toContain('history');
    const run = await setup.pgstashOk(['expire', '--repo1-retention-full=9', '--repo1-retention-history=0']);
    for (const label of labels.filter((each) => !listed.includes(each)))
      expect(run.stdout).toContain(`repo1: remove expired backup history manifest ${label}.manifest.zst`);
    expect((await repo.backups.history.list()).map((entry) => entry.label)).toEqual(listed);
    expect(await listedLabels(setup)).toEqual(listed);
  });
});
