// A full disk under each command, on real size-limited file systems (tmpfs): a clear error naming the file, exit
// 64, nothing that looks complete left behind, and the same command succeeds once there is room again.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { labelDirs, listedLabels, takeBackup } from '../harness/backups.js';
import { RestoreBench } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { Tmpfs } from '../harness/tmpfs.js';
import { switchUntilArchived, switchWal } from '../harness/wal.js';

const MIB = 1024 * 1024;
/** How pgstash reports the write that failed: code 64 (fileWrite), the path, the system's reason. */
const NO_SPACE = /\[064\]: unable to write '([^']+)': no space left on device/;

describe('a full disk', () => {
  let setup: StanzaSetup;
  let repoFs: Tmpfs;
  let restores: RestoreBench;
  let rows = 0;

  /** Adds rows (about 1 MB of WAL) and returns the new total. */
  async function write(count: number): Promise<number> {
    await setup.cluster.psql(
      `insert into t select g, md5(g::text) || md5(random()::text) from generate_series(${rows + 1}, ${rows + count}) g`,
    );
    rows += count;
    return rows;
  }

  /** The stored copies of `segment` in the archive, complete or not (a temp file's name holds the segment's). */
  async function storedCopies(segment: string): Promise<string[]> {
    const archive = join(setup.repoPath, 'archive', setup.stanza);
    const found: string[] = [];
    for (const id of (await readdir(archive)).filter((name) => /^\d+-\d+$/.test(name))) {
      const dir = join(archive, id, segment.slice(0, 16));
      if (!existsSync(dir)) continue;
      for (const name of await readdir(dir)) if (name.includes(segment)) found.push(join(dir, name));
    }
    return found;
  }

  beforeAll(async () => {
    setup = await createStanzaSetup({ walSegmentSizeMb: 1 });
    // The whole repository, archive and backups, lives on a 64 MiB file system.
    repoFs = await Tmpfs.mount(setup.repoPath, { bytes: 64 * MIB, mode: 0o750 });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql('create table t (id int primary key, payload text)');
    await write(20_000);
    await takeBackup(setup);
  });

  afterEach(async () => {
    await repoFs?.unfill();
    await restores?.cleanup();
  });

  afterAll(async () => {
    // The server archives into the mounted repository: stop it before unmounting, unmount before removing.
    await setup?.cluster.destroy();
    repoFs?.unmount();
    await setup?.destroy();
  });

  it('archive-push: the archiver retries, nothing is stored until there is room, then the segment arrives', async () => {
    const failures = Number(await setup.cluster.psql('select failed_count from pg_stat_archiver'));
    await repoFs.fill(0);
    await write(5_000);
    await switchWal(setup);
    const deadline = Date.now() + 60_000;
    while (Number(await setup.cluster.psql('select failed_count from pg_stat_archiver')) === failures) {
      if (Date.now() > deadline)
        throw new Error(`archiving never failed\n${await setup.cluster.logTail(20)}`);
      await sleep(100);
    }
    const failed = await setup.cluster.psql('select last_failed_wal from pg_stat_archiver');
    // PostgreSQL logs archive_command's stderr: the DBA sees which file could not be written, and why.
    const log = await setup.cluster.logTail(60);
    const reported = NO_SPACE.exec(log);
    expect(reported, log).not.toBeNull();
    expect(reported?.[1]).toContain(join(setup.repoPath, 'archive', setup.stanza));
    expect(reported?.[1]).toContain(failed);
    expect(await storedCopies(failed)).toEqual([]);

    // Not archived, so the server keeps it in pg_wal until then.
    const original = await readFile(join(setup.cluster.dataDir, 'pg_wal', failed));
    await repoFs.unfill();
    // New segments wake the archiver, which first retries the one that failed.
    await switchUntilArchived(setup);
    const [stored] = await storedCopies(failed);
    expect(stored).toMatch(new RegExp(`/${failed}-[0-9a-f]{64}\\.zst$`));
    // The retried push stored the server's segment: archive-get returns it byte for byte.
    const dest = join(await restores.tempDir('got'), failed);
    await setup.pgstashOk(['archive-get', failed, dest]);
    expect((await readFile(dest)).equals(original)).toBe(true);
  });

  it('archive-get: writes nothing into a full directory, and delivers once there is room', async () => {
    const segment = await switchUntilArchived(setup);
    const destFs = await Tmpfs.mount(join(await restores.tempDir('get'), 'pg_wal'), {
      bytes: 4 * MIB,
      mode: 0o700,
    });
    try {
      await destFs.fill(0);
      const before = await readdir(destFs.path);
      const dest = join(destFs.path, 'RECOVERYXLOG');
      const full = await setup.pgstash(['archive-get', segment, dest]);
      expect(full.code, full.stderr).toBe(64);
      expect(NO_SPACE.exec(full.stderr)?.[1]).toContain(`${destFs.path}/`);
      expect(await readdir(destFs.path)).toEqual(before);

      await destFs.unfill();
      await setup.pgstashOk(['archive-get', segment, dest]);
      expect((await readFile(dest)).length).toBe(MIB);
    } finally {
      destFs.unmount();
    }
  });

  it('backup: fails naming the file, is not listed, and the next backup resumes it or starts afresh', async () => {
    const before = await listedLabels(setup);
    await write(20_000);
    // Archived before the disk fills: a segment the archiver pushed meanwhile took the room left for the partial
    // manifest once, and the backup failed before it began (CI, Node 20), with nothing to keep.
    await switchUntilArchived(setup);
    await repoFs.fill(512 * 1024);
    const full = await setup.pgstash(['backup', '--type=full', '--start-fast']);
    expect(full.code, full.stderr).toBe(64);
    expect(NO_SPACE.exec(full.stderr)?.[1]).toContain(join(setup.repoPath, 'backup', setup.stanza));
    expect(await listedLabels(setup)).toEqual(before);
    // With resume (the default) the failed backup keeps what it copied, unlisted, for the next backup.
    expect(full.stderr).toMatch(/did not complete: its files are kept for the next backup to resume/);

    await repoFs.unfill();
    const label = await takeBackup(setup);
    expect(await listedLabels(setup)).toEqual([...before, label]);
    // Whether it resumed the leftover (same label) or removed it, no unlisted directory is left.
    expect(await labelDirs(setup)).toEqual([...before, label]);
  });

  it('backup --no-resume: a backup failing on a full disk removes what it copied', async () => {
    const before = await listedLabels(setup);
    await repoFs.fill(512 * 1024);
    const full = await setup.pgstash(['backup', '--type=full', '--start-fast', '--no-resume']);
    expect(full.code, full.stderr).toBe(64);
    expect(await listedLabels(setup)).toEqual(before);
    expect(await labelDirs(setup)).toEqual(before);
    await repoFs.unfill();
    const label = await takeBackup(setup);
    expect(await listedLabels(setup)).toEqual([...before, label]);
  });

  it('restore: stops with the file it could not write, no pg_control, and --delta finishes it once there is room', async () => {
    const dataFs = await Tmpfs.mount(join(await restores.tempDir('full'), 'data'), {
      bytes: 8 * MIB,
      mode: 0o700,
    });
    try {
      const full = await setup.pgstash(['restore', `--pg1-path=${dataFs.path}`]);
      expect(full.code, full.stderr).toBe(64);
      expect(NO_SPACE.exec(full.stderr)?.[1]).toContain(`${dataFs.path}/`);
      // Nothing a DBA could start by mistake: pg_control goes in last, the recovery settings after it.
      for (const name of ['global/pg_control', 'backup_manifest', 'recovery.signal'])
        expect(existsSync(join(dataFs.path, name)), name).toBe(false);

      // What the restore left says so (command/restore/unfinished.ts): --delta, not --force, finishes it.
      expect(existsSync(join(dataFs.path, '.pgstash-restore.unfinished'))).toBe(true);
      dataFs.resize(512 * MIB);
      const args = ['--delta', '--type=immediate', '--target-action=promote'];
      await restores.restore(args, { dataDir: dataFs.path });
      expect(existsSync(join(dataFs.path, '.pgstash-restore.unfinished'))).toBe(false);
      const restored = await restores.start(dataFs.path);
      await restored.waitForRecoveryEnd();
      // The newest backup was taken after the last write: the restored cluster has every row.
      expect(await restored.psql('select count(*) from t')).toBe(String(rows));
      await restored.stop();
    } finally {
      dataFs.unmount();
    }
  });
});
