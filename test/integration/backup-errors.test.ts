// Bad input and failures around backup and restore: each gives its documented exit code and a message naming the
// problem, and a failed or killed backup never becomes visible to info or restore.
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FULL_LABEL, labelDirs, listedLabels, takeBackup } from '../harness/backups.js';
import { flipMiddleByte } from '../harness/damage.js';
import type { BackgroundPgstash } from '../harness/pgstash-process.js';
import { RestoreBench } from '../harness/restore.js';
import { signalWhen } from '../harness/signal.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { setArchiveCommand, switchUntilArchived, switchWal } from '../harness/wal.js';

describe('backup and restore errors', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let firstLabel: string;

  /**
   * Makes archive_command fail, and waits until the archiver has failed with it once (a reload reaches the
   * archiver a moment later): from then on no segment is archived. Returns the segment it is stuck on.
   */
  async function breakArchiving(): Promise<string> {
    const failures = Number(await setup.cluster.psql('select failed_count from pg_stat_archiver'));
    // Still pgstash archive-push for this stanza (a backup checks that first), but its repository is gone.
    const command = await setup.cluster.psql('show archive_command');
    const broken = command.replace('--stanza=main', '--stanza=main --repo1-path=/nonexistent/pgstash-repo');
    expect(broken).not.toBe(command);
    await setArchiveCommand(setup, broken);
    await setup.cluster.psql("select pg_create_restore_point('archiving broken')");
    const stuck = await switchWal(setup);
    const deadline = Date.now() + 60_000;
    while (Number(await setup.cluster.psql('select failed_count from pg_stat_archiver')) === failures) {
      if (Date.now() > deadline)
        throw new Error(`the archiver never failed\n${await setup.cluster.logTail(20)}`);
      await sleep(100);
    }
    // The archiver is stuck on the oldest segment it had not archived yet: the one just switched, or an earlier one
    // still queued when the command broke (after earlier failures PostgreSQL's archiver may sleep before retrying).
    const failed = await setup.cluster.psql('select last_failed_wal from pg_stat_archiver');
    expect(failed <= stuck, `stuck on ${failed}, switched ${stuck}`).toBe(true);
    return failed;
  }

  /** Puts the configured archive_command back and waits until the archiver has caught up. */
  async function repairArchiving(): Promise<void> {
    await setup.cluster.psql('alter system reset archive_command; select pg_reload_conf()');
    await switchUntilArchived(setup);
  }

  beforeAll(async () => {
    setup = await createStanzaSetup({ walSegmentSizeMb: 1 });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql('create table t (id int primary key, payload text)');
    await setup.cluster.psql("insert into t select g, repeat('x', 200) from generate_series(1, 20000) g");
    firstLabel = await takeBackup(setup);
  });

  afterEach(async () => {
    await restores?.cleanup();
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  describe('restore', () => {
    it('into a non-empty directory: 40, naming the directory, which is left as it was', async () => {
      const dir = await restores.tempDir('nonempty');
      await writeFile(join(dir, 'precious'), 'keep me');
      const result = await setup.pgstash(['restore', `--pg1-path=${dir}`]);
      expect(result.code, result.stderr).toBe(40);
      expect(result.stderr).toContain(`[040]: unable to restore into '${dir}': the directory is not empty`);
      expect(await readdir(dir)).toEqual(['precious']);
    });

    it("into a running cluster's directory: 38, and the cluster is untouched", async () => {
      const result = await setup.pgstash(['restore', `--pg1-path=${setup.cluster.dataDir}`, '--force']);
      expect(result.code, result.stderr).toBe(38);
      expect(result.stderr).toMatch(
        new RegExp(`\\[038\\]: unable to restore while PostgreSQL is running in '${setup.cluster.dataDir}'`),
      );
      expect(await setup.cluster.psql('select count(*) from t')).toBe('20000');
    });

    it('a --set that does not exist: 75, naming the set', async () => {
      const dir = join(await restores.tempDir('noset'), 'data');
      const result = await setup.pgstash(['restore', `--pg1-path=${dir}`, '--set=20000101-000000F']);
      expect(result.code, result.stderr).toBe(75);
      expect(result.stderr).toContain("[075]: backup set '20000101-000000F' is not valid");
      expect(existsSync(dir)).toBe(false);
    });

    it('a time target before the oldest backup: 75, naming the target', async () => {
      const dir = join(await restores.tempDir('early'), 'data');
      const target = '2000-01-01 00:00:00+00';
      const result = await setup.pgstash([
        'restore',
        `--pg1-path=${dir}`,
        '--type=time',
        `--target=${target}`,
      ]);
      expect(result.code, result.stderr).toBe(75);
      expect(result.stderr).toContain(
        `[075]: unable to find a backup set with stop time before target '${target}'`,
      );
      expect(existsSync(dir)).toBe(false);
    });

    it('a stored data file with one flipped byte: 26, naming the file', async () => {
      const relation = await setup.cluster.psql("select pg_relation_filepath('t')");
      const stored = join(setup.repoPath, 'backup', setup.stanza, firstLabel, 'pg_data', `${relation}.zst`);
      const repair = await flipMiddleByte(stored, 0x10);
      try {
        const dir = join(await restores.tempDir('corrupt'), 'data');
        const result = await setup.pgstash(['restore', `--pg1-path=${dir}`]);
        expect(result.code, result.stderr).toBe(26);
        expect(result.stderr).toContain(`[026]: '${stored}' is corrupt`);
        // pg_control goes in last: the half-restored directory cannot be started by mistake.
        expect(existsSync(join(dir, 'global', 'pg_control'))).toBe(false);
      } finally {
        await repair();
      }
      // The repaired backup restores again.
      await restores.restore([]);
    });

    it('SIGTERM while files are written: 63, and no pg_control, so nothing can start by mistake', async () => {
      const dir = join(await restores.tempDir('term'), 'data');
      const args = [
        `--config=${setup.configPath}`,
        `--stanza=${setup.stanza}`,
        'restore',
        `--pg1-path=${dir}`,
      ];
      const writing = async (): Promise<boolean> => existsSync(join(dir, 'base'));
      const result = await signalWhen(args, writing, 'SIGTERM');
      expect(result, 'the restore ended before it was caught writing').toBeDefined();
      expect(result?.code, result?.stderr).toBe(63);
      expect(result?.stderr).toContain('[063]: terminated on signal [SIGTERM]');
      expect(existsSync(join(dir, 'global', 'pg_control'))).toBe(false);
    });
  });

  describe('backup', () => {
    it('pg1-path naming another copy of the cluster (same system id): backup and check fail with 58', async () => {
      // What a standby or a copy of the cluster on this host looks like to the system-id check: the same id.
      const copy = await restores.tempDir('copy');
      await mkdir(join(copy, 'global'), { mode: 0o755 });
      await copyFile(join(setup.cluster.dataDir, 'global', 'pg_control'), join(copy, 'global', 'pg_control'));
      await chmod(join(copy, 'global', 'pg_control'), 0o644);
      const before = await labelDirs(setup);
      for (const command of ['backup', 'check']) {
        const result = await setup.pgstash([command, `--pg1-path=${copy}`]);
        expect(result.code, result.stderr).toBe(58);
        expect(result.stderr).toContain(
          `[058]: the server on port ${setup.cluster.port} runs from '${setup.cluster.dataDir}', not from pg1-path '${copy}'`,
        );
      }
      expect(await labelDirs(setup)).toEqual(before);
    });

    it('while archive_command sends WAL to another stanza: 68 before anything is copied', async () => {
      const command = await setup.cluster.psql('show archive_command');
      try {
        await setArchiveCommand(setup, command.replace('--stanza=main', '--stanza=other'));
        const before = await labelDirs(setup);
        const result = await setup.pgstash(['backup', '--type=full', '--start-fast']);
        expect(result.code, result.stderr).toBe(68);
        expect(result.stderr).toContain("archives to stanza 'other', not 'main'");
        expect(await labelDirs(setup)).toEqual(before);
      } finally {
        await setup.cluster.psql('alter system reset archive_command; select pg_reload_conf()');
      }
    });

    it('with an archive_command that does not name pgstash (a wrapper, say): a warning, then the WAL decides', async () => {
      try {
        await setArchiveCommand(setup, 'true');
        const result = await setup.pgstash(['backup', '--type=full', '--start-fast', '--archive-timeout=3']);
        expect(result.stderr).toContain("archive_command 'true' does not call pgstash archive-push");
        // 'true' archives nothing: the wait for the backup's WAL fails as it would have anyway.
        expect(result.code, result.stderr).toBe(82);
        expect(await listedLabels(setup)).toEqual([firstLabel]);
      } finally {
        await repairArchiving();
      }
    });

    it('while archive_command fails: 82 naming the segment, and the backup is not listed', async () => {
      const stuck = await breakArchiving();
      try {
        // --no-resume: a failed backup is removed (with resume on, it is kept for the next one: backup-resume.test.ts).
        const args = [
          'backup',
          '--type=full',
          '--start-fast',
          '--archive-timeout=5',
          '--log-level-console=info',
          '--no-resume',
        ];
        const result = await setup.pgstash(args);
        expect(result.code, result.stderr).toBe(82);
        // The first segment the backup needs is the one holding its start LSN.
        const start = /backup start: label \S+, WAL ([0-9A-F]{24})/.exec(result.stdout + result.stderr)?.[1];
        expect(start, result.stdout).toBeDefined();
        expect(start! > stuck).toBe(true);
        expect(result.stderr).toContain(
          `[082]: WAL segment ${start} was not archived to repo1 before the 5s archive-timeout`,
        );
        expect(await listedLabels(setup)).toEqual([firstLabel]);
        // The failed backup removed what it had copied.
        expect(await labelDirs(setup)).toEqual([firstLabel]);
      } finally {
        await repairArchiving();
      }
    });

    describe('a backup held in its WAL wait', () => {
      let held: BackgroundPgstash | undefined;
      let heldLabel = '';

      afterAll(async () => {
        held?.kill('SIGKILL');
        await held?.done;
        await setup.cluster.psql('alter system reset archive_command; select pg_reload_conf()');
      });

      it('keeps the lock: a second backup fails with 50 naming the holder', async () => {
        await breakArchiving();
        held = setup.spawn(['backup', '--type=full', '--start-fast', '--archive-timeout=300']);
        let ended: unknown;
        void held.done.then((result) => (ended = result));
        // backup_label is stored right after pg_backup_stop, just before the wait for WAL begins.
        const deadline = Date.now() + 100_000;
        while (heldLabel === '' && ended === undefined && Date.now() < deadline) {
          for (const label of await labelDirs(setup)) {
            const backupLabel = join(
              setup.repoPath,
              'backup',
              setup.stanza,
              label,
              'pg_data',
              'backup_label.zst',
            );
            if (label !== firstLabel && existsSync(backupLabel)) heldLabel = label;
          }
          await sleep(100);
        }
        expect(ended, 'the held backup ended before its WAL wait').toBeUndefined();
        expect(heldLabel, 'the held backup never reached its WAL wait').not.toBe('');

        const second = await setup.pgstash(['backup', '--type=full', '--start-fast']);
        expect(second.code, second.stderr).toBe(50);
        expect(second.stderr).toMatch(
          new RegExp(
            `\\[050\\]: unable to acquire lock on file '.*/main-backup\\.lock': held by process ${held.pid}\\b`,
          ),
        );
      });

      it('kill -9: info does not list it and restore uses the previous backup', async () => {
        expect(held).toBeDefined();
        held?.kill('SIGKILL');
        const ended = await held?.done;
        expect(ended?.signal).toBe('SIGKILL');
        // The directory is left behind, but nothing names it.
        expect(await labelDirs(setup)).toEqual([firstLabel, heldLabel].sort());
        expect(await listedLabels(setup)).toEqual([firstLabel]);
        const { result } = await restores.restore([]);
        expect(result.stdout).toContain(`restored backup set ${firstLabel}`);
      });

      it('the next backup succeeds and removes the leftover directory', async () => {
        await repairArchiving();
        // --no-resume: removed rather than resumed (backup-resume.test.ts).
        const next = await setup.pgstashOk(['backup', '--type=full', '--start-fast', '--no-resume']);
        const nextLabel = /backup (\d{8}-\d{6}F) complete/.exec(next.stdout)?.[1] ?? '';
        expect(nextLabel).toMatch(FULL_LABEL);
        expect(next.stderr).toContain(`removing incomplete backup '${heldLabel}'`);
        expect(await labelDirs(setup)).toEqual([firstLabel, nextLabel]);
        expect(await listedLabels(setup)).toEqual([firstLabel, nextLabel]);
      });
    });

    it("the completion line reports the whole command's time, with the checkpoint, the copy and the WAL wait", async () => {
      // Every segment takes 3 s to archive: the backup waits for its WAL well past the end of its copy.
      const command = await setup.cluster.psql('show archive_command');
      try {
        await setArchiveCommand(setup, `sleep 3 && ${command}`);
        const began = performance.now();
        const result = await setup.pgstashOk([
          'backup',
          '--type=full',
          '--start-fast',
          '--log-level-console=info',
        ]);
        const wallSeconds = (performance.now() - began) / 1000;
        const line =
          /complete in (\d+\.\d) s \(checkpoint (\d+\.\d) s, copy (\d+\.\d) s, WAL wait (\d+\.\d) s\)/.exec(
            result.stdout,
          );
        expect(line, result.stdout).not.toBeNull();
        const [total, checkpoint, copy, walWait] = [line![1], line![2], line![3], line![4]].map(Number) as [
          number,
          number,
          number,
          number,
        ];
        expect(walWait).toBeGreaterThanOrEqual(2.5);
        expect(total).toBeGreaterThanOrEqual(checkpoint + copy + walWait - 0.15);
        // The server's checkpoint is its own figure, announced before the wait (a regular one can take minutes).
        expect(result.stdout).toContain('backup begins after the requested immediate checkpoint completes');
        // The whole command, not a part of it: within process start-up of the time measured around it.
        expect(total).toBeLessThanOrEqual(wallSeconds + 0.05);
        expect(total).toBeGreaterThan(wallSeconds - 1.5);
      } finally {
        await repairArchiving();
      }
    });

    it('--archive-copy: the backup reaches consistency without the archive', async () => {
      const label = await takeBackup(setup, ['--archive-copy']);
      const info = await setup.pgstashOk(['info', '--output=json']);
      const [stanza] = JSON.parse(info.stdout) as [{ backup: { label: string; 'archive-copy': boolean }[] }];
      expect(stanza.backup.find((entry) => entry.label === label)?.['archive-copy']).toBe(true);
      const args = [`--set=${label}`, '--type=immediate', '--target-action=promote'];
      const { dataDir } = await restores.restore(args);
      // No archive at all: the WAL to reach consistency must come from the backup's own pg_wal.
      const restored = await restores.start(dataDir, { settings: { restore_command: 'false' } });
      await restored.waitForRecoveryEnd();
      expect(await restored.psql('select count(*) from t')).toBe('20000');
    });

    it('SIGTERM while files are copied: 63, removes what it copied, is not listed, and frees the lock', async () => {
      const before = await listedLabels(setup);
      // --no-resume: removed (with resume on it is kept for the next backup: backup-resume.test.ts).
      const args = [
        `--config=${setup.configPath}`,
        `--stanza=${setup.stanza}`,
        'backup',
        '--type=full',
        '--start-fast',
        '--no-resume',
      ];
      const backupDir = join(setup.repoPath, 'backup', setup.stanza);
      const copying = async (): Promise<boolean> =>
        (await labelDirs(setup)).some(
          (label) => !before.includes(label) && existsSync(join(backupDir, label, 'pg_data', 'base')),
        );
      const result = await signalWhen(args, copying, 'SIGTERM');
      expect(result, 'the backup ended before it was caught copying').toBeDefined();
      expect(result?.code, result?.stderr).toBe(63);
      expect(result?.stderr).toContain('[063]: terminated on signal [SIGTERM]');
      expect(await labelDirs(setup)).toEqual(before);
      expect(await listedLabels(setup)).toEqual(before);
      // The lock is free and the server is out of backup mode: the next backup runs.
      const label = await takeBackup(setup);
      expect(await listedLabels(setup)).toEqual([...before, label]);
    });
  });
});
