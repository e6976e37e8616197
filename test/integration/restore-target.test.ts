// Choosing the backup for a recovery target on a real PostgreSQL 15 with two backups and the target between them:
// a zone-less time in the cluster's timezone (America/New_York) whatever pgstash's TZ, an xid, an lsn, a name;
// and a restore_command that does not carry restore's own console level into the server log.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PgCluster } from '../harness/cluster.js';
import { HISTORY_SETTINGS, WriteHistory, type HistoryRow } from '../harness/history.js';
import { RestoreBench, waitReplayPaused } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { waitArchived } from '../harness/wal.js';

/** Rows 1, 2 before backup A; 3, 4 between A and B; 5, 6 after B (restore point 'late' after 5). */
const ALL = [1, 2, 3, 4, 5, 6];
const upTo = (id: number): number[] => ALL.filter((row) => row <= id);
const CLUSTER_ZONE = 'America/New_York';

async function rowIds(cluster: PgCluster): Promise<number[]> {
  const out = await cluster.psql("select coalesce(string_agg(id::text, ',' order by id), '') from history");
  return out === '' ? [] : out.split(',').map(Number);
}

describe('restore chooses the backup that reaches the target', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let rows: HistoryRow[];
  const labels: string[] = [];

  const row = (id: number): HistoryRow => {
    const found = rows.find((entry) => entry.id === id);
    if (found === undefined) throw new Error(`no history row ${id}`);
    return found;
  };

  /** A row's commit time as the cluster's clock shows it, without a zone: what a DBA on that server writes. */
  const localTime = (id: number): Promise<string> =>
    setup.cluster.psql(
      `select to_char('${row(id).committedAt}'::timestamptz at time zone '${CLUSTER_ZONE}', 'YYYY-MM-DD HH24:MI:SS.US')`,
    );

  async function backup(): Promise<void> {
    const result = await setup.pgstashOk(['backup', '--type=full', '--start-fast']);
    const label = /backup (\d{8}-\d{6}F) complete/.exec(result.stdout)?.[1];
    expect(label, result.stdout).toBeDefined();
    labels.push(label as string);
    // Backup stop times have one-second resolution: commits meant to follow a backup come after that second.
    await new Promise((resolve) => setTimeout(resolve, 1100));
  }

  beforeAll(async () => {
    setup = await createStanzaSetup({
      walSegmentSizeMb: 1,
      cluster: {
        settings: { ...HISTORY_SETTINGS, timezone: CLUSTER_ZONE },
      },
    });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    const history = await WriteHistory.create(setup.cluster, 'history');
    for (const id of [1, 2]) await history.write(id);
    await backup();
    for (const id of [3, 4]) await history.write(id);
    await backup();
    for (const id of [5, 6]) {
      await history.write(id);
      if (id === 5) await history.restorePoint('late');
    }
    const finished = await history.finish();
    rows = finished.rows;
    await waitArchived(setup, finished.lastSegment);
  });

  afterEach(async () => {
    await restores?.cleanup();
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  /** Restores with `args` as pgstash under `tz`, starts, waits for the pause at the target, returns stdout and rows. */
  async function pausedAt(
    args: readonly string[],
    tz = 'UTC',
  ): Promise<{ stdout: string; rows: number[]; log: string; dataDir: string }> {
    const dataDir = join(await restores.tempDir('restore'), 'data');
    const result = await setup.pgstashOk(['restore', `--pg1-path=${dataDir}`, ...args], {
      env: { TZ: tz },
    });
    const pg = await restores.start(dataDir);
    await waitReplayPaused(pg);
    const log = await pg.logTail(300);
    expect(log).not.toMatch(/FATAL: .*(recovery|target)/);
    return { stdout: result.stdout, rows: await rowIds(pg), log, dataDir };
  }

  it('records the timezone and the transaction ids the backup spans', async () => {
    const info = await readFile(join(setup.repoPath, 'backup', setup.stanza, 'backup.info'), 'utf8');
    const backups = (JSON.parse(info) as { content: { backups: Record<string, unknown>[] } }).content.backups;
    expect(backups.length).toBe(2);
    for (const entry of backups) {
      expect(entry).toMatchObject({ timezone: CLUSTER_ZONE, timezoneAbbreviations: 'Default' });
      expect(BigInt(entry['xidStop'] as string)).toBeGreaterThanOrEqual(BigInt(entry['xidStart'] as string));
    }
  });

  for (const tz of ['UTC', 'Pacific/Honolulu']) {
    it(`a zone-less time means the cluster's local time, with pgstash under TZ=${tz}`, async () => {
      // Row 3 committed between the backups: the older backup, and PostgreSQL stops right after row 3.
      const target = await localTime(3);
      const { stdout, rows: restored } = await pausedAt(['--type=time', `--target=${target}`], tz);
      expect(stdout).toContain(`restored backup set ${labels[0]}`);
      expect(stdout).toContain(`is ${row(3).committedAt.replace('.000000+', '+')} in UTC`);
      expect(stdout).toMatch(new RegExp(`in the cluster's timezone ${CLUSTER_ZONE}`));
      expect(restored).toEqual(upTo(3));
    });
  }

  it('a zone-less time after the newer backup takes the newer one', async () => {
    const { stdout, rows: restored } = await pausedAt(['--type=time', `--target=${await localTime(5)}`]);
    expect(stdout).toContain(`restored backup set ${labels[1]}`);
    expect(restored).toEqual(upTo(5));
  });

  it('an xid between the backups takes the older one', async () => {
    const { stdout, rows: restored } = await pausedAt(['--type=xid', `--target=${row(3).xid}`]);
    expect(stdout).toContain(`restored backup set ${labels[0]}`);
    expect(stdout).toContain('the newest that ended before transaction');
    expect(restored).toEqual(upTo(3));
  });

  it('an xid after the newer backup takes the newer one', async () => {
    const { stdout, rows: restored } = await pausedAt(['--type=xid', `--target=${row(6).xid}`]);
    expect(stdout).toContain(`restored backup set ${labels[1]}`);
    expect(restored).toEqual(upTo(6));
  });

  it('an lsn between the backups takes the older one', async () => {
    const { stdout, rows: restored } = await pausedAt(['--type=lsn', `--target=${row(4).commitLsn}`]);
    expect(stdout).toContain(`restored backup set ${labels[0]}`);
    expect(restored).toEqual(upTo(4));
  });

  it('a name takes the newest and says why; restore_command leaves out restore-only console options', async () => {
    const {
      stdout,
      rows: restored,
      log,
      dataDir,
    } = await pausedAt(['--type=name', '--target=late', '--log-level-console=info', '--process-max=2']);
    expect(stdout).toContain(`restored backup set ${labels[1]}`);
    expect(stdout).toMatch(/cannot tell where a restore point is/);
    expect(restored).toEqual(upTo(5));
    const conf = await readFile(join(dataDir, 'postgresql.auto.conf'), 'utf8');
    const restoreCommand = conf.split('\n').find((line) => line.startsWith('restore_command'));
    expect(restoreCommand).toContain('archive-get');
    expect(restoreCommand).not.toMatch(/log-level|process-max/);
    // archive-get ran for every segment replayed, and said nothing at info into the server log.
    expect(log).toMatch(/restored log file/);
    expect(log).not.toMatch(/INFO: found/);
  });
});
