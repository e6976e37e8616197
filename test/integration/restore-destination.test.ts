// Where a restore writes, on real PostgreSQL 15: a directory root handed over to postgres (group root) restored as
// postgres, owners as root, the restore lock (two restores at once, a restore killed with -9), and the commands
// "Next steps" prints for paths with spaces and quotes, and a restore that did not finish (killed, failed) finished
// with --delta.
import { existsSync, statSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pgBin } from '../harness/cluster.js';
import { exec } from '../harness/exec.js';
import { spawnPgstash } from '../harness/pgstash-process.js';
import { shellQuote } from '../harness/pgstash.js';
import { mkdirForPostgres, postgresIds } from '../harness/postgres-user.js';
import { RestoreBench, verifyBackup } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { createTempDir, removeTempDir } from '../harness/tmp.js';
import { switchWal, waitArchived } from '../harness/wal.js';

const LABEL = /backup (\d{8}-\d{6}F) complete/;
/** The lock a restore holds in the data directory it writes. */
const LOCK_FILE = '.pgstash-restore.lock';
/** The marker of a restore that did not finish (command/restore/unfinished.ts). */
const UNFINISHED_FILE = '.pgstash-restore.unfinished';
/** Rows of the table in the data directory: enough that a restore takes a while (two at once overlap). */
const ROWS = 400_000;
/** Rows of the table in the tablespace (only in the second backup). */
const TABLESPACE_ROWS = 1000;
/** Recovery stops once consistent and promotes: WAL after the backup (the tablespace's creation) is not replayed. */
const RECOVERY = ['--type=immediate', '--target-action=promote'];

describe('restore destinations', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  /** A backup without a tablespace, and one with the tablespace 'ts'. */
  let plainLabel: string;
  let tablespaceLabel: string;
  const rootDirs: string[] = [];

  async function backup(): Promise<string> {
    const result = await setup.pgstashOk(['backup', '--type=full', '--start-fast']);
    const label = LABEL.exec(result.stdout)?.[1] ?? '';
    expect(label, result.stdout).not.toBe('');
    return label;
  }

  /** A directory made by root and handed over with `chown postgres` (its group stays root's), with `mode`. */
  async function handedOver(mode: number, name = 'data'): Promise<string> {
    const parent = await createTempDir({ owner: 'root', mode: 0o755, label: 'handed-over' });
    rootDirs.push(parent);
    const dir = join(parent, name);
    await mkdir(dir);
    await chmod(dir, mode);
    await chown(dir, postgresIds().uid, 0);
    return dir;
  }

  /** `dir` and everything under it, links not followed. */
  async function entriesUnder(dir: string): Promise<string[]> {
    return [dir, ...(await readdir(dir, { recursive: true })).map((name) => join(dir, name))];
  }

  /** Runs pgstash with `args` and kills it with -9 as soon as `path` exists. */
  async function restoreKilledOnceExists(args: readonly string[], path: string): Promise<void> {
    const killed = setup.spawn(args);
    for (let waited = 0; !existsSync(path); waited += 5) {
      if (waited > 60_000) throw new Error(`no '${path}' after 60 s`);
      await sleep(5);
    }
    killed.kill('SIGKILL');
    expect((await killed.done).signal).toBe('SIGKILL');
  }

  /** Starts the restored cluster, waits for it to promote, and returns its row counts, then stops it. */
  async function restoredRows(dataDir: string, withTablespace: boolean): Promise<string> {
    const restored = await restores.start(dataDir);
    await restored.waitForRecoveryEnd();
    const rows = await restored.psql(
      withTablespace
        ? 'select (select count(*) from t), (select count(*) from tt)'
        : 'select count(*) from t',
    );
    await restores.stopServers();
    return rows;
  }

  beforeAll(async () => {
    setup = await createStanzaSetup({ walSegmentSizeMb: 1 });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql(`create table t as select g, md5(g::text) from generate_series(1, ${ROWS}) g`);
    plainLabel = await backup();
    const tablespaceDir = await mkdirForPostgres(join(setup.dir, 'ts'), 0o700);
    await setup.cluster.psql(`create tablespace ts location '${tablespaceDir}'`);
    await setup.cluster.psql(
      `create table tt tablespace ts as select g from generate_series(1, ${TABLESPACE_ROWS}) g`,
    );
    tablespaceLabel = await backup();
    await waitArchived(setup, await switchWal(setup));
  });

  afterEach(async () => {
    await restores?.cleanup();
    for (const dir of rootDirs.splice(0)) await removeTempDir(dir);
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  it.each(['700', '750', '755'])(
    'restores as postgres into a directory root made and handed over (group root, mode %s), with and without a tablespace, also again with --force',
    async (octal) => {
      const mode = Number.parseInt(octal, 8);
      const { uid } = postgresIds();
      for (const withTablespace of [false, true]) {
        const dataDir = await handedOver(mode);
        const tablespaceDir = withTablespace ? await handedOver(mode, 'ts') : undefined;
        const args = [
          `--set=${withTablespace ? tablespaceLabel : plainLabel}`,
          ...RECOVERY,
          ...(tablespaceDir === undefined ? [] : [`--tablespace-map=ts=${tablespaceDir}`]),
        ];
        const expected = withTablespace ? `${ROWS}|${TABLESPACE_ROWS}` : String(ROWS);
        for (const force of [[], ['--force']]) {
          await restores.restore([...args, ...force], { dataDir });
          // Everything restore wrote is postgres's (it could not give anything to root's group).
          const written = [
            ...(await entriesUnder(dataDir)),
            ...(tablespaceDir === undefined ? [] : await entriesUnder(tablespaceDir)),
          ];
          for (const path of written) expect((await lstat(path)).uid, path).toBe(uid);
          for (const name of ['recovery.signal', 'postgresql.auto.conf', 'backup_manifest'])
            expect(existsSync(join(dataDir, name)), name).toBe(true);
          expect(await restoredRows(dataDir, withTablespace)).toBe(expected);
        }
      }
    },
  );

  it('as postgres into a directory postgres may not write in: 105 naming it, and nothing written', async () => {
    const dataDir = await handedOver(0o755);
    await chown(dataDir, 0, 0);
    for (const force of [[], ['--force']]) {
      const result = await setup.pgstash([
        'restore',
        `--pg1-path=${dataDir}`,
        `--set=${plainLabel}`,
        ...force,
      ]);
      expect(result.code, result.stderr).toBe(105);
      expect(result.stderr).toContain(`[105]: unable to restore into '${dataDir}': permission denied`);
    }
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('as root, gives every file, directory and link the owners the backup recorded', async () => {
    const dataDir = await handedOver(0o755);
    const tablespaceDir = await handedOver(0o755, 'ts');
    await chown(dataDir, 0, 0);
    await chown(tablespaceDir, 0, 0);
    await restores.restore(
      [`--set=${tablespaceLabel}`, ...RECOVERY, `--tablespace-map=ts=${tablespaceDir}`],
      {
        dataDir,
        as: 'root',
      },
    );
    const { uid, gid } = postgresIds();
    for (const path of [...(await entriesUnder(dataDir)), ...(await entriesUnder(tablespaceDir))]) {
      const stats = await lstat(path);
      expect(`${stats.uid}:${stats.gid}`, path).toBe(`${uid}:${gid}`);
    }
    expect(await restoredRows(dataDir, true)).toBe(`${ROWS}|${TABLESPACE_ROWS}`);
  });

  /**
   * Starts a restore and freezes it (SIGSTOP) once it holds the lock file `lockFile`, so a second restore runs
   * while the first is certainly in the middle of its work; `resume` lets it go on (SIGCONT) and resolves to its
   * result. Deterministic where two restores merely started together could, on a slow machine, not overlap.
   */
  async function holdingRestore(args: readonly string[], lockFile: string) {
    const first = spawnPgstash(args);
    for (let waited = 0; !existsSync(lockFile); waited += 10) {
      if (waited > 60_000) throw new Error(`no lock file '${lockFile}' after 60 s`);
      await sleep(10);
    }
    first.kill('SIGSTOP');
    return {
      pid: first.pid,
      async resume() {
        first.kill('SIGCONT');
        return first.done;
      },
    };
  }

  it.each([[[]], [['--force']]])(
    'a second restore into a directory a restore is writing (%j) exits 50 naming it, and the first completes',
    async (force: string[]) => {
      const dataDir = join(await restores.tempDir('race'), 'data');
      if (force.length > 0) {
        await mkdirForPostgres(dataDir, 0o700);
        await writeFile(join(dataDir, 'left-over'), 'from an earlier attempt');
      }
      const args = [
        `--config=${setup.configPath}`,
        `--stanza=${setup.stanza}`,
        'restore',
        `--pg1-path=${dataDir}`,
        `--set=${plainLabel}`,
        ...RECOVERY,
        ...force,
      ];
      const first = await holdingRestore(args, join(dataDir, LOCK_FILE));
      const second = await spawnPgstash(args).done;
      const firstResult = await first.resume();
      expect(second.code, second.stderr).toBe(50);
      expect(second.stderr).toContain(
        `[050]: unable to acquire lock on file '${join(dataDir, LOCK_FILE)}': held by process ${first.pid}`,
      );
      expect(second.stderr).toContain(`another pgstash restore is writing into '${dataDir}'`);
      expect(firstResult.code, firstResult.stderr).toBe(0);
      // The first restore is whole, and its lock is gone.
      expect(await readdir(dataDir)).not.toContain(LOCK_FILE);
      expect(await readdir(dataDir)).not.toContain('left-over');
      const verified = await verifyBackup(dataDir);
      expect(verified.code, verified.stderr).toBe(0);
      expect(await restoredRows(dataDir, false)).toBe(String(ROWS));
    },
  );

  it('of two restores started at once into one directory, exactly one writes it', async () => {
    // Started together, they may or may not overlap; either way at most one may restore into the directory
    // while the other is in it, and the directory ends whole.
    const dataDir = join(await restores.tempDir('race-at-once'), 'data');
    const args = [
      `--config=${setup.configPath}`,
      `--stanza=${setup.stanza}`,
      'restore',
      `--pg1-path=${dataDir}`,
      `--set=${plainLabel}`,
      ...RECOVERY,
    ];
    const results = await Promise.all([spawnPgstash(args).done, spawnPgstash(args).done]);
    const codes = results.map((result) => result.code).sort();
    // 50: the lock was held; 40: the other had finished, so the directory was no longer empty.
    expect(
      [
        [0, 40],
        [0, 50],
      ],
      results.map((result) => result.stderr).join('\n'),
    ).toContainEqual(codes);
    expect(await readdir(dataDir)).not.toContain(LOCK_FILE);
    const verified = await verifyBackup(dataDir);
    expect(verified.code, verified.stderr).toBe(0);
  });

  it('a restore sharing a tablespace directory with a restore in progress exits 50, and the first completes', async () => {
    const parent = await restores.tempDir('shared-ts');
    const tablespaceDir = join(parent, 'ts');
    const args = (dataDir: string) => [
      `--config=${setup.configPath}`,
      `--stanza=${setup.stanza}`,
      'restore',
      `--pg1-path=${dataDir}`,
      `--set=${tablespaceLabel}`,
      ...RECOVERY,
      `--tablespace-map=ts=${tablespaceDir}`,
      '--force',
    ];
    const first = await holdingRestore(args(join(parent, 'data-a')), join(tablespaceDir, LOCK_FILE));
    const second = await spawnPgstash(args(join(parent, 'data-b'))).done;
    const firstResult = await first.resume();
    expect(second.code, second.stderr).toBe(50);
    expect(second.stderr).toContain(
      `[050]: unable to acquire lock on file '${join(tablespaceDir, LOCK_FILE)}': held by process ${first.pid}`,
    );
    expect(firstResult.code, firstResult.stderr).toBe(0);
    expect(await readdir(tablespaceDir)).not.toContain(LOCK_FILE);
    expect(await restoredRows(join(parent, 'data-a'), true)).toBe(`${ROWS}|${TABLESPACE_ROWS}`);
  });

  it('takes over the lock a restore killed with -9 left behind', async () => {
    const dataDir = join(await restores.tempDir('killed'), 'data');
    const args = [`--set=${plainLabel}`, ...RECOVERY];
    const lockFile = join(dataDir, LOCK_FILE);
    await restoreKilledOnceExists(['restore', `--pg1-path=${dataDir}`, ...args], lockFile);
    expect(existsSync(lockFile)).toBe(true);
    // Its process is gone: the next restore takes the lock over (--force: the killed one left files).
    await restores.restore([...args, '--force'], { dataDir });
    expect(existsSync(lockFile)).toBe(false);
    expect(await restoredRows(dataDir, false)).toBe(String(ROWS));
  });

  it('a restore killed with -9, or failed, leaves a directory restore --delta finishes and a plain restore names', async () => {
    const dataDir = join(await restores.tempDir('unfinished'), 'data');
    const args = [`--set=${plainLabel}`, ...RECOVERY];
    const marker = join(dataDir, UNFINISHED_FILE);
    await restoreKilledOnceExists(['restore', `--pg1-path=${dataDir}`, ...args], marker);
    expect(existsSync(join(dataDir, 'global', 'pg_control'))).toBe(false);
    // Empty only when the kill came between creating the marker and writing the set into it.
    const content = await readFile(marker, 'utf8');
    expect(['', `${plainLabel}\n`]).toContain(content);
    // A plain restore says what the directory holds and how to finish it.
    const plain = await setup.pgstash(['restore', `--pg1-path=${dataDir}`, ...args]);
    expect(plain.code, plain.stderr).toBe(40);
    const set = content === '' ? '' : ` of backup set ${plainLabel}`;
    expect(plain.stderr).toContain(
      `unable to restore into '${dataDir}': it holds a restore${set} that did not finish`,
    );
    expect(plain.stderr).toContain('HINT: run the restore again with --delta to finish it');
    // --delta without --force finishes it, whatever the killed restore had written (PG_VERSION or not).
    await restores.restore([...args, '--delta'], { dataDir });
    expect(existsSync(marker)).toBe(false);
    expect(await restoredRows(dataDir, false)).toBe(String(ROWS));

    // A restore that fails on its own (a repository file it may not read) leaves the marker too, and no lock.
    const failedDir = join(await restores.tempDir('failed'), 'data');
    const backupDir = join(setup.repoPath, 'backup', setup.stanza, plainLabel);
    const largest = (await readdir(backupDir, { recursive: true }))
      .map((name) => join(backupDir, name))
      .filter((path) => statSync(path).isFile())
      .sort((a, b) => statSync(b).size - statSync(a).size)[0] as string;
    const mode = statSync(largest).mode & 0o7777;
    await chmod(largest, 0o000);
    try {
      const failed = await setup.pgstash(['restore', `--pg1-path=${failedDir}`, ...args]);
      expect(failed.code, failed.stderr).not.toBe(0);
      expect(failed.stderr).toContain(largest);
    } finally {
      await chmod(largest, mode);
    }
    expect((await readdir(failedDir)).sort()).toContain(UNFINISHED_FILE);
    expect(await readdir(failedDir)).not.toContain(LOCK_FILE);
    expect(existsSync(join(failedDir, 'global', 'pg_control'))).toBe(false);
    // As a restore run as root leaves it: root's, mode 600. The restore as postgres replaces it all the same.
    await chown(join(failedDir, UNFINISHED_FILE), 0, 0);
    await chmod(join(failedDir, UNFINISHED_FILE), 0o600);
    await restores.restore([...args, '--delta'], { dataDir: failedDir });
    expect(existsSync(join(failedDir, UNFINISHED_FILE))).toBe(false);
    expect(await restoredRows(failedDir, false)).toBe(String(ROWS));
  });

  it('prints the Next steps commands with the paths quoted for the shell', async () => {
    const parent = await restores.tempDir('quoted');
    const dataDir = join(parent, "it's the data");
    const tablespaceDir = join(parent, "ts 'mapped'");
    const { result } = await restores.restore(
      [`--set=${tablespaceLabel}`, ...RECOVERY, `--tablespace-map=ts=${tablespaceDir}`],
      { dataDir },
    );
    expect(result.stdout).toContain(`pg_verifybackup -n ${shellQuote(dataDir)}\n`);
    expect(result.stdout).toContain(`pg_ctl -D ${shellQuote(dataDir)} start\n`);
    expect(result.stdout).toContain(`tablespaces restored to: ${shellQuote(tablespaceDir)}\n`);
    // Pasted into a shell, the printed command works as printed.
    const verify = /pg_verifybackup -n .*$/m.exec(result.stdout)?.[0] ?? '';
    const pasted = await exec('sh', ['-c', verify.replace('pg_verifybackup', pgBin('pg_verifybackup'))], {
      asPostgres: true,
    });
    expect(pasted.code, pasted.stderr).toBe(0);
    expect(pasted.stdout).toContain('backup successfully verified');
  });
});
