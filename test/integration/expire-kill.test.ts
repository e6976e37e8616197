// A real kill -9 of `pgstash expire` while it removes (PostgreSQL 15, 1 MiB WAL segments, a chain of fulls and incrs
// with plenty of WAL): the expire runs as a child process and is SIGKILLed the moment inotify shows it removing (after
// its first backup.info write, in the middle of a full's files, in the middle of the WAL). Each time, from the same
// repository: info lists every retained backup and no backup whose files are gone, every retained backup restores,
// starts and holds its data, and a new expire leaves the repository exactly as an uninterrupted expire does.
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEmptyFile, storedFilePath } from '../../src/repo/manifest.js';
import { Repository } from '../../src/repo/repository.js';
import { listedLabels, takeBackup } from '../harness/backups.js';
import { execChecked } from '../harness/exec.js';
import { RestoreBench } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { createTempDir, removeTempDir } from '../harness/tmp.js';
import { switchWal, waitArchived } from '../harness/wal.js';
import { repoOptions } from '../harness/repository.js';

const RETENTION = ['--repo1-retention-full=2', '--repo1-retention-history=0'];
const DATA = "select count(*) || '/' || sum(id) from t";

/** Every path under `root`, relative, sorted: the repository's shape. */
async function tree(root: string, dir = root): Promise<string[]> {
  const paths: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    paths.push(relative(root, path));
    if (entry.isDirectory()) paths.push(...(await tree(root, path)));
  }
  return paths.sort();
}

describe('expire killed with kill -9 while it removes', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let pristine: string;
  const dirs: string[] = [];
  /** Each backup, oldest first, with the data it holds. */
  const backups: { label: string; data: string }[] = [];
  let finalData = '';
  /** What an uninterrupted expire leaves: the repository's paths and backup.info. */
  let expectedTree: string[] = [];
  let expectedInfo: Buffer;
  let walRemoved = 0;

  const backupDir = (label: string) => join(setup.repoPath, 'backup', setup.stanza, label);
  const archiveDir = () => join(setup.repoPath, 'archive', setup.stanza, '15-1', '0000000100000000');

  /** About 15 MiB of WAL (15 segments), switched and archived. */
  async function writeWal(): Promise<void> {
    await setup.cluster.psql(`insert into t select g, repeat('x', 500) from generate_series(1, 20000) g`);
    await waitArchived(setup, await switchWal(setup), 180);
  }

  async function backup(type: 'full' | 'incr'): Promise<string> {
    await writeWal();
    const label = await takeBackup(setup, [`--type=${type}`]);
    backups.push({ label, data: await setup.cluster.psql(DATA) });
    return label;
  }

  async function copyRepo(from: string, to: string): Promise<void> {
    await rm(to, { recursive: true, force: true });
    await execChecked('cp', ['-a', from, to]);
  }

  async function tempDir(label: string): Promise<string> {
    const dir = await createTempDir({ label });
    dirs.push(dir);
    return dir;
  }

  beforeAll(async () => {
    setup = await createStanzaSetup({ walSegmentSizeMb: 1 });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql('create table t (id int, pad text)');
    // F1, F1I, F2, F2I, F3: retention-full=2 expires F1 and F1I, their history manifests (history=0) and the WAL
    // before F2's start.
    for (const type of ['full', 'incr', 'full', 'incr', 'full'] as const) await backup(type);
    await writeWal();
    finalData = await setup.cluster.psql(DATA);
    // Nothing more reaches the archive: the repository stays what the expires start from.
    await setup.cluster.stop();
    pristine = join(await tempDir('pristine'), 'repo');
    await copyRepo(setup.repoPath, pristine);

    // The uninterrupted expire, on a copy.
    const reference = join(await tempDir('reference'), 'repo');
    await copyRepo(pristine, reference);
    const before = await readdir(archiveDir());
    await setup.pgstashOk(['expire', ...RETENTION, `--repo1-path=${reference}`]);
    expectedTree = await tree(reference);
    expectedInfo = await readFile(join(reference, 'backup', setup.stanza, 'backup.info'));
    walRemoved =
      before.length -
      (await readdir(join(reference, 'archive', setup.stanza, '15-1', '0000000100000000'))).length;
  }, 900_000);

  afterAll(async () => {
    await restores?.cleanup();
    for (const dir of dirs) await removeTempDir(dir);
    await setup?.destroy();
  });

  /**
   * Runs expire from the pristine repository and SIGKILLs it at the `count`th change inotify reports in `dir` whose
   * file name `matches`; fails if the expire ended first.
   */
  async function expireKilledAt(dir: string, matches: (name: string) => boolean, count = 1): Promise<void> {
    await copyRepo(pristine, setup.repoPath);
    let seen = 0;
    let kill = (): void => undefined;
    // Watching before the expire starts: no change can pass unseen.
    const watcher: FSWatcher = watch(dir, (_event, name) => {
      if (name !== null && matches(name) && ++seen === count) kill();
    });
    watcher.on('error', () => undefined);
    try {
      const run = setup.spawn(['expire', ...RETENTION]);
      kill = () => run.kill('SIGKILL');
      const result = await run.done;
      expect(result.signal, `expire ended before the kill:\n${result.stdout}${result.stderr}`).toBe(
        'SIGKILL',
      );
    } finally {
      watcher.close();
    }
    expect(await tree(setup.repoPath)).not.toEqual(expectedTree);
  }

  /** info right, every retained backup restored, started and compared, then a new expire finishing the job. */
  async function checkAfterKill(): Promise<void> {
    const [f1, f1i, ...retained] = backups.map((each) => each.label) as [string, string, ...string[]];
    // info: every retained backup listed; of the expired ones only those not yet reached (newest first: F1I, F1).
    const listed = await listedLabels(setup);
    expect([[f1, f1i, ...retained], [f1, ...retained], retained]).toContainEqual(listed);
    // Every listed backup has every file its manifest names, and its history manifest.
    const repo = await Repository.open(repoOptions(setup.repoPath), setup.stanza);
    const history = (await repo.backups.history.list()).map((entry) => entry.label);
    for (const label of listed) {
      // History goes after the backup.info entries: a listed backup always keeps its history manifest.
      expect(history, label).toContain(label);
      const manifest = await repo.backups.manifest(label);
      const missing = manifest.files.filter(
        (file) => !isEmptyFile(file) && !existsSync(join(setup.repoPath, storedFilePath(setup.stanza, file))),
      );
      expect(
        missing.map((file) => file.name),
        label,
      ).toEqual([]);
    }

    // Each retained backup restores and starts: the older ones to their consistency point, the newest to the end.
    for (const { label, data } of backups.slice(2)) {
      const newest = label === backups.at(-1)?.label;
      const args = newest ? [] : ['--type=immediate', '--target-action=promote'];
      const { dataDir } = await restores.restore([`--set=${label}`, ...args]);
      const server = await restores.start(dataDir);
      await server.waitForRecoveryEnd();
      expect(await server.psql(DATA), label).toBe(newest ? finalData : data);
      await restores.stopServers();
    }
    await restores.cleanup();

    // A new expire finishes: the repository is what the uninterrupted one left.
    await setup.pgstashOk(['expire', ...RETENTION]);
    expect(await tree(setup.repoPath)).toEqual(expectedTree);
    expect(await readFile(join(setup.repoPath, 'backup', setup.stanza, 'backup.info'))).toEqual(expectedInfo);
  }

  it('killed right after its first backup.info write', async () => {
    await expireKilledAt(join(setup.repoPath, 'backup', setup.stanza), (name) => name === 'backup.info');
    await checkAfterKill();
  }, 600_000);

  it("killed in the middle of a full backup's files", async () => {
    const f1 = backups[0]?.label ?? '';
    await expireKilledAt(join(backupDir(f1), 'pg_data', 'base', '1'), () => true, 20);
    await checkAfterKill();
  }, 600_000);

  it('killed in the middle of the WAL removal', async () => {
    expect(walRemoved).toBeGreaterThan(20);
    await expireKilledAt(archiveDir(), () => true, Math.floor(walRemoved / 3));
    await checkAfterKill();
  }, 600_000);
});
