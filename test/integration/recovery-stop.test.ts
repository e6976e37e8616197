// A damaged segment in the archive during recovery, through the real server: archive recovery stops there (it must
// not take the failure for the end of the archive and promote without the rest), a standby keeps retrying, and
// both carry on to the end once the segment is repaired. With a recovery target before the damaged segment,
// which PostgreSQL 15 reads ahead of replay, recovery reaches the target; with one after it, recovery stops
// unpromoted and reaches the target once the segment is repaired.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { takeBackup } from '../harness/backups.js';
import { flipMiddleByte } from '../harness/damage.js';
import { RestoreBench, waitReplayPaused, waitStoppedByItself, waitUntil } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import type { PgCluster } from '../harness/cluster.js';
import { switchWal, waitArchived } from '../harness/wal.js';

const BATCHES = 3;
const ROWS_PER_BATCH = 1000;

/** Where recovery can stop just after a batch: an LSN and a time (UTC), with the batch in and its mark out. */
interface BatchTarget {
  readonly lsn: string;
  readonly time: string;
}

/**
 * Writes `rows` rows of batch `batch` into t (ids from `first`) in one commit, then, a moment later, a row of
 * `marks`, and switches WAL. Resolves to the target between the two commits (the mark is the later record a time
 * target needs to stop at) and the segment switched out.
 */
async function writeBatch(
  cluster: PgCluster,
  batch: number,
  first: number,
  rows = ROWS_PER_BATCH,
): Promise<{ target: BatchTarget; segment: string }> {
  await cluster.psql(
    `insert into t select g, ${batch} from generate_series(${first}, ${first + rows - 1}) g`,
  );
  await sleep(20);
  const [lsn = '', time = ''] = (
    await cluster.psql(
      "select pg_current_wal_insert_lsn(), to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'",
    )
  ).split('|');
  await sleep(20);
  await cluster.psql(`insert into marks values (${batch})`);
  const segment = await switchWal({ cluster });
  return { target: { lsn, time }, segment };
}

/** The repository file holding archived WAL file `walFile` of archive id 15-1. */
async function storedCopyOf(setup: StanzaSetup, walFile: string): Promise<string> {
  const dir = join(setup.repoPath, 'archive', setup.stanza, '15-1', walFile.slice(0, 16));
  const name = (await readdir(dir)).find((entry) => entry.startsWith(`${walFile}-`));
  expect(name, `no stored copy of ${walFile} in ${dir}`).toBeDefined();
  return join(dir, name as string);
}

/** A new stanza with tables t and marks and a backup, the backup's stop second past (for time targets). */
async function backedUpStanza(): Promise<StanzaSetup> {
  const setup = await createStanzaSetup({ walSegmentSizeMb: 1 });
  await setup.cluster.start();
  await setup.pgstashOk(['stanza-create']);
  await setup.cluster.psql('create table t (id int primary key, batch int)');
  await setup.cluster.psql('create table marks (batch int)');
  await takeBackup(setup);
  // The backup's stop time has one-second resolution: time targets must come after that second.
  await sleep(1100);
  return setup;
}

describe('a damaged segment in the archive during recovery', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  /** The segment each batch of rows was written in, in order. */
  const segments: string[] = [];
  /** Where recovery stops just after each batch. */
  const targets: BatchTarget[] = [];
  /** The stored copy of the middle segment. */
  let stored: string;
  /** Puts the stored copy's good bytes back after damage(). */
  let repair: () => Promise<void> = async () => undefined;

  async function damage(): Promise<void> {
    repair = await flipMiddleByte(stored, 0x01);
  }

  beforeAll(async () => {
    setup = await backedUpStanza();
    restores = new RestoreBench(setup);
    for (let batch = 1; batch <= BATCHES; batch++) {
      const { target, segment } = await writeBatch(setup.cluster, batch, (batch - 1) * ROWS_PER_BATCH + 1);
      targets.push(target);
      segments.push(segment);
    }
    await waitArchived(setup, segments.at(-1) as string);
    stored = await storedCopyOf(setup, segments[1] as string);
  });

  afterEach(async () => {
    await repair();
    await restores.cleanup();
  });

  afterAll(async () => {
    await setup?.destroy();
  });

  it('archive recovery stops at it (no promotion, no new timeline) and, repaired, replays to the end', async () => {
    await damage();
    const { dataDir } = await restores.restore([]);
    const server = await restores.start(dataDir, { wait: false });
    await waitStoppedByItself(server, 60);
    const log = await server.logTail(80);
    expect(log).toMatch(/ERROR: \[026\]: '.*' is corrupt/);
    expect(log).toContain(`FATAL:  could not restore file "${segments[1]}" from archive`);
    // Still a recovery in progress: not promoted, so restarting carries on from the same point.
    expect(existsSync(join(dataDir, 'recovery.signal'))).toBe(true);
    expect(existsSync(join(dataDir, 'pg_wal', '00000002.history'))).toBe(false);

    await repair();
    await server.start();
    await server.waitForRecoveryEnd();
    expect(await server.psql('select count(*) from t')).toBe(String(BATCHES * ROWS_PER_BATCH));
  });

  describe.each(['lsn', 'time'] as const)('with a recovery target (%s)', (type) => {
    it('before the damaged segment: recovery reaches the target, which PostgreSQL reads past', async () => {
      await damage();
      const { dataDir } = await restores.restore([`--type=${type}`, `--target=${targets[0]?.[type]}`]);
      const server = await restores.start(dataDir);
      await waitReplayPaused(server, 60);
      expect(await server.psql('select count(*) from t')).toBe(String(ROWS_PER_BATCH));
      expect(await server.psql('select count(*) from marks')).toBe('0');
      // PostgreSQL did ask for the damaged segment, read ahead of replay, and went on.
      const log = await server.logTail(200);
      expect(log).toMatch(/ERROR: \[026\]: '.*' is corrupt/);
      expect(log).toContain(
        `unable to fetch ${segments[1]}; recovery goes on towards recovery_target_${type}`,
      );
    });

    it('after the damaged segment: recovery stops unpromoted and, repaired, reaches the target', async () => {
      await damage();
      const target = targets[BATCHES - 1]?.[type];
      const { dataDir } = await restores.restore([
        `--type=${type}`,
        `--target=${target}`,
        '--target-action=promote',
      ]);
      const server = await restores.start(dataDir, { wait: false });
      await waitStoppedByItself(server, 60);
      const log = await server.logTail(80);
      expect(log).toMatch(/ERROR: \[026\]: '.*' is corrupt/);
      expect(log).toContain('FATAL:  recovery ended before configured recovery target was reached');
      expect(existsSync(join(dataDir, 'recovery.signal'))).toBe(true);
      expect(existsSync(join(dataDir, 'pg_wal', '00000002.history'))).toBe(false);

      await repair();
      await server.start();
      await server.waitForRecoveryEnd();
      expect(await server.psql('select count(*) from t')).toBe(String(BATCHES * ROWS_PER_BATCH));
      expect(await server.psql('select count(*) from marks')).toBe(String(BATCHES - 1));
    });
  });

  it('a standby retries it, stays up, and catches up once it is repaired', async () => {
    await damage();
    const { dataDir } = await restores.restore(['--type=standby']);
    const standby = await restores.start(dataDir);
    // Replayed up to the damaged segment, then retrying it (PostgreSQL waits 5 s between attempts).
    await waitUntil(standby, 'two failed fetches of the damaged segment', async () => {
      const failures = (await standby.logTail(200)).match(/ERROR: \[026\]: '.*' is corrupt/g) ?? [];
      return failures.length >= 2;
    });
    expect(await standby.psql('select count(*) from t')).toBe(String(ROWS_PER_BATCH));
    expect(await standby.psql('select pg_is_in_recovery()')).toBe('t');

    await repair();
    const all = String(BATCHES * ROWS_PER_BATCH);
    await waitUntil(
      standby,
      `${all} rows`,
      async () => (await standby.psql('select count(*) from t')) === all,
    );
  });
});

describe('a damaged segment of a later timeline, whose older timeline holds the same segment', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;

  beforeAll(async () => {
    setup = await backedUpStanza();
    restores = new RestoreBench(setup);
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  it('stops recovery even with a target: PostgreSQL would replay the older timeline in its place', async () => {
    // Timeline 1: batch 1 in segment s, batch 2 after it.
    const one = await writeBatch(setup.cluster, 1, 1);
    const two = await writeBatch(setup.cluster, 2, ROWS_PER_BATCH + 1);
    await waitArchived(setup, two.segment);
    // A copy recovered to just after batch 1 and promoted: timeline 2 branches off inside segment s, and archives
    // its own copy of s (batch 1, then its rows 9001..9100) into the same stanza.
    const copyDir = await restores.restore([
      '--type=lsn',
      `--target=${one.target.lsn}`,
      '--target-action=promote',
    ]);
    const copy = await restores.start(copyDir.dataDir, { archive: true });
    await copy.waitForRecoveryEnd();
    const branched = await writeBatch(copy, 9, 9001, 100);
    const timeline2Segment = `00000002${one.segment.slice(8)}`;
    expect(branched.segment).toBe(timeline2Segment);
    await waitArchived({ cluster: copy }, branched.segment);
    await restores.stopServers();
    // Timeline 1 goes on after the copy's rows: a commit past the copy's target time.
    const three = await writeBatch(setup.cluster, 3, 2 * ROWS_PER_BATCH + 1);
    await waitArchived(setup, three.segment);

    const repair = await flipMiddleByte(await storedCopyOf(setup, timeline2Segment), 0x01);
    try {
      const { dataDir } = await restores.restore([
        '--type=time',
        `--target=${branched.target.time}`,
        '--target-action=promote',
      ]);
      const server = await restores.start(dataDir, { wait: false });
      await waitStoppedByItself(server, 60);
      const log = await server.logTail(80);
      expect(log).toMatch(/ERROR: \[026\]: '.*' is corrupt/);
      expect(log).toContain(`FATAL:  could not restore file "${timeline2Segment}" from archive`);
      expect(existsSync(join(dataDir, 'recovery.signal'))).toBe(true);
      expect(existsSync(join(dataDir, 'pg_wal', '00000003.history'))).toBe(false);

      await repair();
      await server.start();
      await server.waitForRecoveryEnd();
      // Timeline 2's history: batch 1 and the copy's rows, none of timeline 1's later batches or marks.
      expect(await server.psql('select batch, count(*) from t group by batch order by batch')).toBe(
        '1|1000\n9|100',
      );
      expect(await server.psql('select count(*) from marks')).toBe('0');
    } finally {
      await repair();
    }
  });
});
