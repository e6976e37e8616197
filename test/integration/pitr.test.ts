// Point-in-time restore on a real PostgreSQL 15 with a known history: every target type, inclusive and exclusive
// targets, every target action, and timelines 2 and 3 built by restoring twice into the same stanza.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PgCluster } from '../harness/cluster.js';
import { HISTORY_SETTINGS, timeAfter, WriteHistory, type HistoryRow } from '../harness/history.js';
import { RestoreBench, waitReplayPaused, waitStoppedByItself, waitUntil } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { switchWal, waitArchived } from '../harness/wal.js';

/** Ids 1..8 of the history table: 1 and 2 before the backup, 3..8 after it, restore point 'mid' after 5. */
const BEFORE_BACKUP = [1, 2];
const AFTER_BACKUP = [3, 4, 5, 6, 7, 8];
const ALL = [...BEFORE_BACKUP, ...AFTER_BACKUP];
/** Rows written on timeline 2, after a restore that stopped after row 4 and promoted. */
const TIMELINE_2 = [101, 102];

const upTo = (id: number): number[] => ALL.filter((row) => row <= id);

async function rowIds(cluster: PgCluster): Promise<number[]> {
  const out = await cluster.psql("select coalesce(string_agg(id::text, ',' order by id), '') from history");
  return out === '' ? [] : out.split(',').map(Number);
}

async function timelineOf(cluster: PgCluster): Promise<number> {
  return Number.parseInt(
    await cluster.psql('select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)'),
    16,
  );
}

describe('point-in-time restore', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let rows: HistoryRow[];
  let backupLabel: string;

  /** The history row with this id. */
  const row = (id: number): HistoryRow => {
    const found = rows.find((entry) => entry.id === id);
    if (found === undefined) throw new Error(`no history row ${id}`);
    return found;
  };

  beforeAll(async () => {
    setup = await createStanzaSetup({
      walSegmentSizeMb: 1,
      compressType: 'gz',
      global: { 'process-max': '2' },
      cluster: { settings: HISTORY_SETTINGS },
    });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    const history = await WriteHistory.create(setup.cluster, 'history');
    for (const id of BEFORE_BACKUP) await history.write(id);
    const backup = await setup.pgstashOk(['backup', '--type=full', '--start-fast']);
    backupLabel = /backup (\d{8}-\d{6}F) complete/.exec(backup.stdout)?.[1] ?? '';
    expect(backupLabel, backup.stdout).not.toBe('');
    // The backup's stop time has one-second resolution: time targets must come after that second.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    for (const id of AFTER_BACKUP) {
      await history.write(id);
      if (id === 5) await history.restorePoint('mid');
    }
    const finished = await history.finish();
    rows = finished.rows;
    await waitArchived(setup, finished.lastSegment);
    expect(rows.map((entry) => entry.id)).toEqual(ALL);
    expect(await rowIds(setup.cluster)).toEqual(ALL);
  });

  afterEach(async () => {
    await restores?.cleanup();
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  /** Restores with `args` (and pg_verifybackup), starts, waits for the pause at the target, returns the rows. */
  async function rowsPausedAt(args: readonly string[]): Promise<number[]> {
    const { dataDir, result } = await restores.restore(args);
    expect(result.stdout).toContain(`restored backup set ${backupLabel}`);
    const pg = await restores.start(dataDir);
    await waitReplayPaused(pg);
    expect(await pg.psql('select pg_is_in_recovery(), pg_get_wal_replay_pause_state()')).toBe('t|paused');
    await expect(pg.psql("insert into history values (1000, 'x')")).rejects.toThrow(/read-only transaction/);
    return rowIds(pg);
  }

  // Each of these pauses at its target (the default action): in recovery, replay paused, read-only.
  describe('targets, target-action pause', () => {
    it('immediate stops at consistency: only the rows from before the backup', async () => {
      expect(await rowsPausedAt(['--type=immediate'])).toEqual(BEFORE_BACKUP);
    });

    it('default replays the whole archive and promotes', async () => {
      const { dataDir } = await restores.restore([]);
      const pg = await restores.start(dataDir);
      await pg.waitForRecoveryEnd();
      expect(await rowIds(pg)).toEqual(ALL);
      expect(await timelineOf(pg)).toBe(2);
    });

    it('time at a commit, inclusive: that commit is in', async () => {
      expect(await rowsPausedAt(['--type=time', `--target=${row(5).committedAt}`])).toEqual(upTo(5));
    });

    it('time at a commit, --target-exclusive: that commit is out', async () => {
      const args = ['--type=time', `--target=${row(5).committedAt}`, '--target-exclusive'];
      expect(await rowsPausedAt(args)).toEqual(upTo(4));
    });

    it('time between two commits', async () => {
      const between = await timeAfter(setup.cluster, row(6).committedAt, 100);
      expect(between > row(6).committedAt && between < row(7).committedAt).toBe(true);
      expect(await rowsPausedAt(['--type=time', `--target=${between}`])).toEqual(upTo(6));
    });

    it('xid, inclusive (--target-action=pause given)', async () => {
      const args = ['--type=xid', `--target=${row(4).xid}`, '--target-action=pause'];
      expect(await rowsPausedAt(args)).toEqual(upTo(4));
    });

    it('xid, --target-exclusive', async () => {
      expect(await rowsPausedAt(['--type=xid', `--target=${row(4).xid}`, '--target-exclusive'])).toEqual(
        upTo(3),
      );
    });

    it('lsn of a commit record, inclusive', async () => {
      expect(await rowsPausedAt(['--type=lsn', `--target=${row(6).commitLsn}`])).toEqual(upTo(6));
    });

    it('lsn of a commit record, --target-exclusive', async () => {
      const args = ['--type=lsn', `--target=${row(6).commitLsn}`, '--target-exclusive'];
      expect(await rowsPausedAt(args)).toEqual(upTo(5));
    });

    it('name: the restore point made after row 5', async () => {
      expect(await rowsPausedAt(['--type=name', '--target=mid'])).toEqual(upTo(5));
    });
  });

  describe('target actions', () => {
    it('promote: writable once the target is reached', async () => {
      const args = ['--type=xid', `--target=${row(7).xid}`, '--target-action=promote', '--archive-mode=off'];
      const { dataDir, result } = await restores.restore(args);
      expect(result.stdout).toContain('3. the server replays WAL to the target, then promotes:');
      // A promoted copy must not push its new timeline into the stanza it came from.
      expect(result.stdout).toContain('archiving is off in the restored cluster');
      expect(await readFile(join(dataDir, 'postgresql.auto.conf'), 'utf8')).toContain("archive_mode = 'off'");
      const pg = await restores.start(dataDir);
      await pg.waitForRecoveryEnd();
      expect(await rowIds(pg)).toEqual(upTo(7));
      await pg.psql("insert into history values (1000, 'after promote')");
      expect(await rowIds(pg)).toEqual([...upTo(7), 1000]);
      expect(await pg.logTail(200)).toMatch(/recovery stopping after commit of transaction \d+/);
    });

    it('standby: the server stays in recovery and follows the archive to its end', async () => {
      const { dataDir } = await restores.restore(['--type=standby']);
      expect(existsSync(join(dataDir, 'standby.signal'))).toBe(true);
      expect(existsSync(join(dataDir, 'recovery.signal'))).toBe(false);
      const pg = await restores.start(dataDir);
      await waitUntil(pg, 'the last archived row', async () => (await rowIds(pg)).length === ALL.length);
      expect(await rowIds(pg)).toEqual(ALL);
      expect(await pg.psql('select pg_is_in_recovery(), pg_get_wal_replay_pause_state()')).toBe(
        't|not paused',
      );
    });

    it('shutdown: the server stops by itself at the target', async () => {
      const { dataDir, result } = await restores.restore([
        '--type=name',
        '--target=mid',
        '--target-action=shutdown',
      ]);
      expect(result.stdout).toContain('3. the server replays WAL to the target, then shuts down:');
      const pg = await restores.start(dataDir, { wait: false });
      await waitStoppedByItself(pg);
      const log = await pg.logTail(200);
      expect(log).toMatch(/recovery stopping at restore point "mid"/);
      expect(log).toMatch(/shutdown at recovery target/);
    });
  });

  describe('timelines', () => {
    it('restore + promote gives timeline 2, whose WAL and history reach the same stanza', async () => {
      const args = ['--type=xid', `--target=${row(4).xid}`, '--target-action=promote'];
      const { dataDir } = await restores.restore(args);
      const pg = await restores.start(dataDir, { archive: true });
      await pg.waitForRecoveryEnd();
      expect(await timelineOf(pg)).toBe(2);
      for (const id of TIMELINE_2) await pg.psql(`insert into history values (${id}, 'timeline 2')`);
      expect(await rowIds(pg)).toEqual([...upTo(4), ...TIMELINE_2]);
      await waitArchived({ cluster: pg }, await switchWal({ cluster: pg }));
      const historyFile = join(await restores.tempDir('tl2'), '00000002.history');
      const got = await setup.pgstash(['archive-get', '00000002.history', historyFile]);
      expect(got.code, got.stderr).toBe(0);
      // Timeline 1 ends where replay stopped: after the commit of row 4.
      expect(await readFile(historyFile, 'utf8')).toMatch(
        new RegExp(`^1\\t[0-9A-F]+/[0-9A-F]+\\tafter transaction ${row(4).xid}\\n`),
      );
      await pg.stop();
    });

    it('restore again along the latest timeline, promote: timeline 3 with the rows of timeline 2', async () => {
      const { dataDir } = await restores.restore([]);
      const pg = await restores.start(dataDir);
      await pg.waitForRecoveryEnd();
      expect(await rowIds(pg)).toEqual([...upTo(4), ...TIMELINE_2]);
      expect(await timelineOf(pg)).toBe(3);
      expect(await pg.logTail(200)).toMatch(/selected new timeline ID: 3/);
    });

    it('--target-timeline=current stays on timeline 1 and does not see timeline 2', async () => {
      const { dataDir } = await restores.restore(['--target-timeline=current']);
      const pg = await restores.start(dataDir);
      await pg.waitForRecoveryEnd();
      expect(await rowIds(pg)).toEqual(ALL);
    });

    it('a time target after the branch: timeline 1 by number, or the latest timeline', async () => {
      const target = `--target=${row(7).committedAt}`;
      expect(await rowsPausedAt(['--type=time', target, '--target-timeline=1'])).toEqual(upTo(7));
      await restores.cleanup();
      // Along timeline 2, the first commit after the target time is row 101: replay stops before it.
      expect(await rowsPausedAt(['--type=time', target])).toEqual(upTo(4));
    });
  });
});
