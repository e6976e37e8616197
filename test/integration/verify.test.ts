// verify on real PostgreSQL 15: a healthy repository (a full and incrementals with block incremental, on three
// timelines made by restoring in place to a point and promoting) reports every backup valid and exits 0; --since-last
// after a new backup reads only the files written since, and still catches damage to one of them; then every kind
// of damage at once (a flipped byte in a backup file, in one the full holds for later backups, in a block-incremental
// block and in a WAL segment, a WAL segment missing in a backup's range and one after the last backup, a manifest
// missing, a truncated info file) is
// reported exactly (each backup names the damaged files its restore reads, by its manifest), in one run, with exit
// code 114 (a damaged bundled file: bundle.test.ts, "verify passes, then names the damaged member"). The encrypted
// repository's stanza files (stanza.key, drill.history, the ledger, history manifests): one bad copy fails verify as
// both do, its severity a warning; a file a verify decoded is read as stored the next time, and damage to it after
// that is still named as a first read names it.
import { chown, mkdir, readdir, readFile, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeBackup } from '../harness/backups.js';
import { flipMiddleByte } from '../harness/damage.js';
import { postgresIds } from '../harness/postgres-user.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { switchUntilArchived, waitArchiveIdle } from '../harness/wal.js';

interface Gap {
  timeline: number;
  from: string;
  to: string;
}
interface Problem {
  file: string;
  code: number;
  message: string;
}
interface BackupJson {
  label: string;
  status: 'valid' | 'consistent-only' | 'damaged';
  failing: boolean;
  damaged: Problem[];
  wal: { start: string; stop: string; missing: Gap[] };
  pitr: { timeline: number | null; end: string | null; gaps: Gap[] };
}
interface RepoJson {
  status: 'ok' | 'error';
  files: { checked: number; read: number; bytes: number; unchanged: number; 'as-stored': number };
  'ledger-written': boolean;
  problems: Problem[];
  'info-files': (Problem & { severity: 'warning' | 'error' })[];
  archives: { id: string; segments: number; timelines: number[]; gaps: Gap[]; damaged: Problem[] }[];
  backups: BackupJson[];
}
interface VerifyJson {
  stanza: string;
  status: 'ok' | 'error';
  repos: RepoJson[];
}

describe('verify', () => {
  let setup: StanzaSetup;
  /** full (timeline 1), incr1 (timeline 1, block-stored big table), incr2 (timeline 2), incr3 (timeline 3). */
  const labels: string[] = [];

  async function verifyJson(
    args: readonly string[] = [],
  ): Promise<{ code: number | null; json: VerifyJson; stderr: string }> {
    const run = await setup.pgstash(['verify', '--output=json', '--process-max=2', ...args]);
    let json: VerifyJson;
    try {
      json = JSON.parse(run.stdout) as VerifyJson;
    } catch {
      throw new Error(`verify printed no JSON (exit ${String(run.code)}):\n${run.stdout}\n${run.stderr}`);
    }
    return { code: run.code, json, stderr: run.stderr };
  }

  const repoDir = (...parts: string[]): string => join(setup.repoPath, ...parts);
  const archiveDir = (): string => repoDir('archive', setup.stanza, '15-1');

  /** Archived segment files (not partial, backup or claim files) by segment name. */
  async function archivedSegments(): Promise<Map<string, string>> {
    const files = new Map<string, string>();
    for (const dir of await readdir(archiveDir())) {
      if (!/^[0-9A-F]{16}$/.test(dir)) continue;
      for (const name of await readdir(join(archiveDir(), dir))) {
        const match = /^([0-9A-F]{24})-[0-9a-f]{64}(\.\w+)?$/.exec(name);
        if (match !== null) files.set(match[1] as string, join(archiveDir(), dir, name));
      }
    }
    return files;
  }

  /** Every repository file a verify reads (data files of backups and archived WAL: no info files, claims or ledger). */
  async function dataFiles(dir = setup.repoPath): Promise<string[]> {
    const found: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      // backup.history holds copies of manifests nothing restores from: verify does not read them.
      if (entry.isDirectory()) {
        if (entry.name !== 'backup.history') found.push(...(await dataFiles(path)));
      } else if (
        !/\.(info|copy|claim|manifest)$/.test(entry.name) &&
        !entry.name.startsWith('verify.ledger') &&
        !entry.name.startsWith('.')
      )
        found.push(path);
    }
    return found.sort();
  }

  interface StoredJson {
    holder: string;
    compressType: string;
    block?: { parts: { holder: string; compressType: string }[] };
  }
  /** Every repository file a restore of backup `label` reads, by its manifest: what verify must name if damaged. */
  async function pathsRead(label: string): Promise<Set<string>> {
    const manifest = JSON.parse(
      await readFile(repoDir('backup', setup.stanza, label, 'backup.manifest'), 'utf8'),
    ) as { content: { files: { name: string; stored: StoredJson }[] } };
    const at = (holder: string, name: string, type: string): string =>
      `backup/${setup.stanza}/${holder}/${name}${type === 'none' ? '' : `.${type}`}`;
    const paths = new Set<string>();
    for (const { name, stored } of manifest.content.files) {
      if (stored.block === undefined) {
        paths.add(at(stored.holder, name, stored.compressType));
        continue;
      }
      paths.add(at(stored.holder, `block-map/${name}`, stored.compressType));
      for (const part of stored.block.parts) paths.add(at(part.holder, name, part.compressType));
    }
    return paths;
  }

  /** Stops the cluster, restores the newest backup in place to its consistency point, and starts it promoted. */
  async function branchTimeline(): Promise<void> {
    await setup.cluster.stop();
    await setup.pgstashOk(['restore', '--delta', '--type=immediate', '--target-action=promote']);
    await setup.cluster.start();
    await setup.cluster.waitForRecoveryEnd();
  }

  async function writeAndArchive(id: number): Promise<void> {
    await setup.cluster.psql(`insert into t values (${id})`);
    await switchUntilArchived(setup);
  }

  beforeAll(async () => {
    setup = await createStanzaSetup({ walSegmentSizeMb: 1, global: { 'repo1-block': 'y' } });
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql(
      'create table t (id int); create table big (id int, pad text); ' +
        "insert into big select g, repeat('x', 200) from generate_series(1, 40000) g",
    );
    await writeAndArchive(1);
    labels.push(await takeBackup(setup));
    await writeAndArchive(2);
    await setup.cluster.psql("update big set pad = repeat('y', 200) where id between 100 and 300");
    await writeAndArchive(3);
    labels.push(await takeBackup(setup, ['--type=incr']));
    await writeAndArchive(4);
    await branchTimeline();
    await writeAndArchive(5);
    labels.push(await takeBackup(setup, ['--type=incr']));
    await writeAndArchive(6);
    await branchTimeline();
    await writeAndArchive(7);
    labels.push(await takeBackup(setup, ['--type=incr']));
    for (const id of [8, 9, 10]) await writeAndArchive(id);
  }, 600_000);

  afterAll(async () => {
    await setup?.destroy();
  });

  it('a healthy repository: every backup valid, three timelines, no gap, exit 0, the ledger written', async () => {
    const { code, json, stderr } = await verifyJson();
    expect(code, stderr).toBe(0);
    expect(json.status).toBe('ok');
    const [repo] = json.repos as [RepoJson];
    expect(repo.problems).toEqual([]);
    expect(repo['info-files']).toEqual([]);
    expect(repo['ledger-written']).toBe(true);
    expect(repo.files.checked).toBe((await dataFiles()).length);
    expect(repo.files.read).toBe(repo.files.checked);
    const [archive] = repo.archives;
    expect(archive?.timelines).toEqual([1, 2, 3]);
    expect(archive?.gaps).toEqual([]);
    expect(archive?.damaged).toEqual([]);
    expect(repo.backups.map((backup) => backup.label)).toEqual(labels);
    for (const backup of repo.backups) {
      expect(backup.status, JSON.stringify(backup)).toBe('valid');
      expect(backup.pitr.timeline).toBe(3);
    }
    // The newest backup's recovery reaches the newest segment archived on timeline 3.
    const newest = [...(await archivedSegments()).keys()].sort().at(-1);
    expect(repo.backups.at(-1)?.pitr.end).toBe(newest);
    // At least one file of incr1 is block-stored (its own block map).
    const maps = await readdir(repoDir('backup', setup.stanza, labels[1] as string, 'block-map'), {
      recursive: true,
    });
    expect(maps.some((name) => name.endsWith('.zst'))).toBe(true);

    // --set: that backup and the backups it takes files from; the ledger is left as it is.
    const one = await verifyJson([`--set=${labels[1] ?? ''}`]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.json.repos[0]?.backups.map((backup) => backup.label)).toEqual(labels.slice(0, 2));
    expect(one.json.repos[0]?.['ledger-written']).toBe(false);
    // latest: the newest backup and the backups holding its files (its references), the full among them.
    const latest = await verifyJson(['--set=latest']);
    const chain = latest.json.repos[0]?.backups.map((backup) => backup.label) ?? [];
    expect(chain[0]).toBe(labels[0]);
    expect(chain.at(-1)).toBe(labels.at(-1));
    expect((await setup.pgstash(['verify', '--set=20200101-000000F'])).code).toBe(75);

    const text = await setup.pgstash(['verify']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(
      `backup ${labels[0] ?? ''} (full): valid, recovers to ${newest ?? ''} on timeline 3`,
    );
  });

  it('--since-last after a new backup reads only the files written since, and catches damage to one of them', async () => {
    // The server may still be archiving what the last test wrote (a loaded machine): a segment archived between this
    // listing and the verify below would be in the ledger but not in `before`, and then look added but not read.
    await waitArchiveIdle(setup.cluster);
    const before = new Set(await dataFiles());
    // A verify that passes writes the ledger; one with --since-last right after reads nothing.
    expect((await verifyJson()).code).toBe(0);
    const quiet = await verifyJson(['--since-last']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.json.repos[0]?.files.read).toBe(0);
    expect(quiet.json.repos[0]?.files.unchanged).toBe(before.size);

    await writeAndArchive(11);
    const label = await takeBackup(setup, ['--type=incr']);
    labels.push(label);
    await waitArchiveIdle(setup.cluster);
    const added = (await dataFiles()).filter((path) => !before.has(path));
    expect(added.length).toBeGreaterThan(0);
    const run = await verifyJson(['--since-last', '--log-level-stderr=detail']);
    expect(run.code, run.stderr).toBe(0);
    // What it read, by its own log: every file added since, and nothing else (WAL the server archives meanwhile
    // is new too).
    const read = [...run.stderr.matchAll(/verify: read '([^']+)'/g)].map((match) =>
      join(setup.repoPath, match[1] as string),
    );
    expect(run.json.repos[0]?.files.read).toBe(read.length);
    for (const path of added) expect(read, path).toContain(path);
    for (const path of read) expect(before.has(path), path).toBe(false);
    expect(read.length).toBeLessThanOrEqual(added.length + 2);
    expect(run.json.repos[0]?.files.unchanged).toBe(before.size);

    // Damage to a file the new backup wrote is caught, though the ledger of the last run lists it.
    const victim = added.find((path) => path.includes(`/${label}/pg_data/`)) as string;
    const heal = await flipMiddleByte(victim, 0x01);
    const damaged = await verifyJson(['--since-last']);
    await heal();
    expect(damaged.code).toBe(114);
    const backup = damaged.json.repos[0]?.backups.find((entry) => entry.label === label);
    expect(backup?.status).toBe('damaged');
    expect(backup?.damaged.map((problem) => problem.file)).toEqual([victim.slice(setup.repoPath.length + 1)]);
    expect(damaged.json.repos[0]?.files.read).toBe(1);
    // A failed verify leaves the ledger as it was: the repaired file is read again next time.
    const after = await verifyJson(['--since-last']);
    expect(after.code, after.stderr).toBe(0);
    expect(after.json.repos[0]?.files.read).toBe(1);
  });

  it('every damage at once: each reported exactly (backup, file, range), exit 114', async () => {
    const [full, incr1, incr2, incr3] = labels as [string, string, string, string];
    // Segments after the newest backup's stop, so that one missing among them is a gap.
    for (const id of [12, 13, 14]) await writeAndArchive(id);
    const relative = (path: string): string => path.slice(setup.repoPath.length + 1);
    const infoOf = async (): Promise<RepoJson> => (await verifyJson()).json.repos[0] as RepoJson;
    const healthy = await infoOf();
    const record = (label: string): BackupJson =>
      healthy.backups.find((backup) => backup.label === label) as BackupJson;
    const segments = await archivedSegments();
    const names = [...segments.keys()].sort();

    // A backup file only the full holds (every backup copies pg_control).
    const fullDir = repoDir('backup', setup.stanza, full);
    const fullFile = (await dataFiles(fullDir)).find((path) =>
      path.endsWith('/global/pg_control.zst'),
    ) as string;
    // A file the full holds for every later backup (unchanged since): each backup that needs it names it.
    const incr2Reads = await pathsRead(incr2);
    const shared = [...(await pathsRead(full))].find(
      (path) =>
        incr2Reads.has(path) && /\/pg_data\/base\/\d+\/\d+\.zst$/.test(path) && !path.includes('/block-map/'),
    ) as string;
    expect(shared).toBeDefined();
    const readBy = new Map(
      await Promise.all([full, incr1, incr2].map(async (label) => [label, await pathsRead(label)] as const)),
    );
    const heals = [
      await flipMiddleByte(fullFile, 0x10),
      await flipMiddleByte(join(setup.repoPath, shared), 0x10),
    ];
    // A block incremental part incr1 stored: the file beside one of its block maps.
    const incr1Dir = repoDir('backup', setup.stanza, incr1);
    const map = (await dataFiles(join(incr1Dir, 'block-map')))[0] as string;
    const part = join(incr1Dir, relative(map).split('/block-map/')[1] as string);
    heals.push(await flipMiddleByte(part, 0x20));
    // A WAL segment between the full's stop and incr1's start (timeline 1).
    const between = names.find(
      (name) => name > record(full).wal.stop && name < record(incr1).wal.start,
    ) as string;
    expect(between).toBeDefined();
    heals.push(await flipMiddleByte(segments.get(between) as string, 0x40));
    // A segment of incr2's start to stop (timeline 2) removed.
    const inRange = record(incr2).wal.start;
    await rm(segments.get(inRange) as string);
    // A segment after the newest backup's stop (timeline 3), not the newest: a gap.
    const after = names.filter((name) => name > record(labels.at(-1) as string).wal.stop)[0] as string;
    expect(names.at(-1)).not.toBe(after);
    await rm(segments.get(after) as string);
    // incr3's manifest gone (both copies), backup.info truncated (its copy still reads).
    const manifest = repoDir('backup', setup.stanza, incr3, 'backup.manifest');
    await rm(manifest);
    await rm(`${manifest}.copy`);
    const backupInfo = repoDir('backup', setup.stanza, 'backup.info');
    await truncate(backupInfo, Math.floor((await readFile(backupInfo)).length / 2));

    const { code, json } = await verifyJson();
    expect(code).toBe(114);
    const repo = json.repos[0] as RepoJson;
    expect(repo.status).toBe('error');
    expect(repo['ledger-written']).toBe(false);
    const byLabel = (label: string): BackupJson =>
      repo.backups.find((backup) => backup.label === label) as BackupJson;
    const files = (label: string): string[] => byLabel(label).damaged.map((problem) => problem.file);

    // backup.info's copy still reads: a warning; the manifest has no copy left: an error.
    expect(repo['info-files'].map((problem) => [problem.file, problem.severity]).sort()).toEqual(
      [
        [relative(backupInfo), 'warning'],
        [relative(manifest), 'error'],
        [`${relative(manifest)}.copy`, 'error'],
      ].sort(),
    );
    // Each backup names exactly the damaged files a restore of it would read, its own or an older backup's.
    const damagedFiles = [relative(fullFile), shared, relative(part)];
    for (const label of [full, incr1, incr2]) {
      const expected = damagedFiles.filter((path) => readBy.get(label)?.has(path)).sort();
      expect(files(label).sort(), label).toEqual(expected);
      expect(byLabel(label).status).toBe('damaged');
    }
    expect(files(full)).toContain(shared);
    expect(files(incr1)).toEqual(expect.arrayContaining([shared, relative(part)]));
    expect(byLabel(full).damaged.find((problem) => problem.file === relative(fullFile))?.code).toBe(26);
    expect(files(incr3)).toEqual([`${incr3}/backup.manifest`]);
    expect(byLabel(incr3).damaged[0]?.code).toBe(55);

    const [archive] = repo.archives;
    expect(archive?.damaged.map((problem) => problem.file)).toEqual([
      relative(segments.get(between) as string),
    ]);
    expect(archive?.gaps).toEqual([
      { timeline: 1, from: between, to: between },
      { timeline: 2, from: inRange, to: inRange },
      { timeline: 3, from: after, to: after },
    ]);
    // The damaged segment cuts the full's recovery after its stop; the missing one breaks incr2's consistency.
    expect(byLabel(full).pitr.gaps).toContainEqual({ timeline: 1, from: between, to: between });
    expect(byLabel(incr2).wal.missing).toEqual([{ timeline: 2, from: inRange, to: inRange }]);
    expect(byLabel(incr2).status).toBe('damaged');
    // The newest backup recovers only to the segment before the missing one.
    const newest = byLabel(labels.at(-1) as string);
    expect(newest.failing).toBe(true);
    expect(newest.pitr.gaps).toEqual([{ timeline: 3, from: after, to: after }]);
    expect(newest.pitr.end).toBe(names[names.indexOf(after) - 1]);

    // With the flipped bytes repaired (the missing files still missing), the newest backup, sound itself, is
    // restorable to consistency only, and so is the full.
    for (const heal of heals) await heal();
    const repaired = await verifyJson();
    expect(repaired.code).toBe(114);
    const again = (label: string): BackupJson =>
      repaired.json.repos[0]?.backups.find((backup) => backup.label === label) as BackupJson;
    expect(again(labels.at(-1) as string).status).toBe('consistent-only');
    expect(again(full).status).toBe('consistent-only');
    // (incr2's missing segment is not on the full's way: timeline 3 branched in it and holds its own copy.)
    expect(again(full).pitr.gaps).toEqual([{ timeline: 3, from: after, to: after }]);
    const text = await setup.pgstash(['verify']);
    expect(text.code).toBe(114);
    expect(text.stdout).toContain(`bad file: ${incr3}/backup.manifest: [055]`);
    expect(text.stdout).toContain(`wal missing from its start to its stop: ${inRange}`);
    expect(text.stdout).toContain(`gap: ${after} missing`);
    expect(text.stdout).toContain(`backup ${labels.at(-1) ?? ''} (incr): restorable to consistency only`);
  });
});

describe('verify of an encrypted repository', () => {
  let setup: StanzaSetup;

  beforeAll(async () => {
    setup = await createStanzaSetup({ walSegmentSizeMb: 1, cipherPass: 'verify-secret' });
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql(
      'create table t as select g as id, md5(g::text) as pad from generate_series(1, 20000) g',
    );
    await switchUntilArchived(setup);
    await takeBackup(setup);
    await switchUntilArchived(setup);
    // A drill, so that the stanza has a drill history (drill.history and its copy).
    const drillPath = join(setup.dir, 'drills');
    await mkdir(drillPath, { mode: 0o700 });
    const { uid, gid } = postgresIds();
    await chown(drillPath, uid, gid);
    await setup.pgstashOk(['drill', `--drill-path=${drillPath}`, '--type=immediate', '--drill-amcheck=n']);
  }, 300_000);

  afterAll(async () => {
    await setup?.destroy();
  });

  async function verifyJson(): Promise<{ code: number | null; repo: RepoJson; stderr: string }> {
    const run = await setup.pgstash(['verify', '--output=json']);
    try {
      return {
        code: run.code,
        repo: (JSON.parse(run.stdout) as VerifyJson).repos[0] as RepoJson,
        stderr: run.stderr,
      };
    } catch {
      throw new Error(`verify printed no JSON (exit ${String(run.code)}):\n${run.stdout}\n${run.stderr}`);
    }
  }

  it('checks every stanza file: one bad copy (its twin sound and used), both copies, a history manifest or the ledger each fail verify naming the file (114), all in one run', async () => {
    const stanzaDir = join(setup.repoPath, 'backup', setup.stanza);
    const relative = (path: string): string => path.slice(setup.repoPath.length + 1);
    const infoFiles = (repo: RepoJson): string[][] =>
      repo['info-files'].map((problem) => [problem.file, problem.severity]).sort();
    const key = join(stanzaDir, 'stanza.key');
    const archiveInfo = join(setup.repoPath, 'archive', setup.stanza, 'archive.info');
    const drill = join(stanzaDir, 'drill.history');
    const pointer = join(stanzaDir, 'verify.ledger');
    const first = await verifyJson();
    expect(first.code, first.stderr).toBe(0);
    expect(first.repo['info-files']).toEqual([]);
    expect(first.repo['ledger-written']).toBe(true);

    // One copy of each damaged: the files still read (severity warning), yet verify fails: a damaged file is damage.
    const healKey = await flipMiddleByte(key, 0x04);
    const healArchiveInfo = await flipMiddleByte(`${archiveInfo}.copy`, 0x04);
    const healDrill = await flipMiddleByte(drill, 0x04);
    const healPointer = await flipMiddleByte(`${pointer}.copy`, 0x04);
    const warned = await verifyJson();
    expect(warned.code, warned.stderr).toBe(114);
    expect(infoFiles(warned.repo)).toEqual(
      [
        [relative(key), 'warning'],
        [`${relative(archiveInfo)}.copy`, 'warning'],
        [relative(drill), 'warning'],
        [`${relative(pointer)}.copy`, 'warning'],
      ].sort(),
    );
    expect(warned.stderr).toContain('the other copy is used');
    expect(warned.repo['ledger-written']).toBe(false);
    expect(warned.repo.backups.every((backup) => backup.status === 'valid')).toBe(true);
    const text = await setup.pgstash(['verify']);
    expect(text.code).toBe(114);
    expect(text.stdout).toMatch(
      new RegExp(`info file: ${relative(key)}: \\[.*\\(the other copy is sound and used\\)`),
    );

    // Both copies of the drill history, the only history manifest and the ledger's lines damaged: errors.
    const healDrillCopy = await flipMiddleByte(`${drill}.copy`, 0x04);
    const history = (await readdir(join(stanzaDir, 'backup.history'), { recursive: true }))
      .filter((name) => name.includes('.manifest'))
      .map((name) => join(stanzaDir, 'backup.history', name));
    expect(history).toHaveLength(1);
    const healHistory = await flipMiddleByte(history[0] as string, 0x04);
    const lines = (await readdir(stanzaDir)).filter((name) => /^verify\.ledger\.[0-9a-f]{16}$/.test(name));
    expect(lines).toHaveLength(1);
    const ledgerLines = join(stanzaDir, lines[0] as string);
    await flipMiddleByte(ledgerLines, 0x04);
    const failed = await verifyJson();
    expect(failed.code).toBe(114);
    expect(failed.repo.status).toBe('error');
    expect(infoFiles(failed.repo)).toEqual(
      [
        [relative(key), 'warning'],
        [`${relative(archiveInfo)}.copy`, 'warning'],
        [`${relative(pointer)}.copy`, 'warning'],
        [relative(drill), 'error'],
        [`${relative(drill)}.copy`, 'error'],
        [relative(history[0] as string), 'error'],
      ].sort(),
    );
    expect(failed.repo.problems.map((problem) => problem.file)).toEqual([relative(ledgerLines)]);
    expect(failed.repo['ledger-written']).toBe(false);
    expect(failed.repo.backups.every((backup) => backup.status === 'valid')).toBe(true);
    const failedText = await setup.pgstash(['verify']);
    expect(failedText.code).toBe(114);
    expect(failedText.stdout).toContain(`info file: ${relative(drill)}.copy: [`);
    expect(failedText.stdout).toContain(`error: ${relative(ledgerLines)}: [`);

    // With the rest repaired, the damaged ledger alone fails verify once: the verify that read everything replaces it.
    for (const heal of [healKey, healArchiveInfo, healPointer, healDrill, healDrillCopy, healHistory])
      await heal();
    const replacing = await verifyJson();
    expect(replacing.code).toBe(114);
    expect(replacing.repo.problems.map((problem) => problem.file)).toEqual([relative(ledgerLines)]);
    expect(replacing.repo['info-files']).toEqual([]);
    expect(replacing.repo['ledger-written']).toBe(true);
    const clean = await verifyJson();
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.repo.problems).toEqual([]);

    // Both copies of the key damaged: nothing encrypted reads; reported as an error, with the JSON report.
    const heals = [await flipMiddleByte(key, 0x04), await flipMiddleByte(`${key}.copy`, 0x04)];
    const keyless = await verifyJson();
    for (const heal of heals) await heal();
    expect(keyless.code).toBe(114);
    expect(keyless.repo.problems.map((problem) => problem.file)).toEqual(['stanza.key']);
    expect(infoFiles(keyless.repo)).toEqual([
      [relative(key), 'error'],
      [`${relative(key)}.copy`, 'error'],
    ]);
    expect((await verifyJson()).code).toBe(0);
  });

  it('is sound, read as stored the second time, then a flipped byte in a backup file and in a WAL segment fail authentication (95), each named', async () => {
    const clean = await setup.pgstash(['verify', '--output=json']);
    expect(clean.code, clean.stderr).toBe(0);
    // The files the first verify decoded are read as stored: their stored bytes hashed as the ledger records them.
    const again = await setup.pgstash(['verify', '--output=json']);
    expect(again.code, again.stderr).toBe(0);
    const counts = ((JSON.parse(again.stdout) as VerifyJson).repos[0] as RepoJson).files;
    expect(counts.read).toBeGreaterThan(0);
    expect(counts['as-stored']).toBe(counts.read);
    const repo = setup.repoPath;
    const files: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) await walk(join(dir, entry.name));
        else files.push(join(dir, entry.name));
      }
    };
    await walk(repo);
    const backupFile = files.find((path) => /\/pg_data\/base\/\d+\/\d+\.zst$/.test(path)) as string;
    const segment = files.find((path) => /\/[0-9A-F]{24}-[0-9a-f]{64}\.zst$/.test(path)) as string;
    await flipMiddleByte(backupFile, 0x02);
    await flipMiddleByte(segment, 0x02);
    const run = await setup.pgstash(['verify', '--output=json']);
    expect(run.code).toBe(114);
    const json = JSON.parse(run.stdout) as VerifyJson;
    const [result] = json.repos as [RepoJson];
    const relative = (path: string): string => path.slice(repo.length + 1);
    expect(result.backups[0]?.damaged.map((problem) => [problem.file, problem.code])).toEqual([
      [relative(backupFile), 95],
    ]);
    expect(result.archives[0]?.damaged.map((problem) => [problem.file, problem.code])).toEqual([
      [relative(segment), 95],
    ]);
  });
});
