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
import { switchWal, waitArchived } from '../harness/wal.js';

const BATCHES = 3;
const ROWS_PER_BATCH = 1000;

describe('a damaged segment in the archive during recovery', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  /** The segment each batch of rows was written in, in order. */
  const segments: string[] = [];
  /**
   * After each batch's commit: an LSN and a time (UTC) that stop recovery with that batch in and the batch's mark
   * out. The mark, a row of `marks` committed just after, is the later record a time target needs to stop at.
   */
  const targets: { lsn: string; time: string }[] = [];
  /** The stored copy of the middle segment. */
  let stored: string;
  /** Puts the stored copy's good bytes back after damage(). */
  let repair: () => Promise<void> = async () => undefined;

  async function damage(): Promise<void> {
    repair = await flipMiddleByte(stored, 0x01);
  }

  beforeAll(async () => {
    setup = await createStanzaSetup({ walSegmentSizeMb: 1 });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql('create table t (id int primary key, batch int)');
    await setup.cluster.psql('create table marks (batch int)');
    await takeBackup(setup);
    // The backup's stop time has one-second resolution: time targets must come after that second.
    await sleep(1100);
    for (let batch = 1; batch <= BATCHES; batch++) {
      const first = (batch - 1) * ROWS_PER_BATCH + 1;
      await setup.cluster.psql(
        `insert into t select g, ${batch} from generate_series(${first}, ${first + ROWS_PER_BATCH - 1}) g`,
      );
      await sleep(20);
      const [lsn = '', time = ''] = (
        await setup.cluster.psql(
          "select pg_current_wal_insert_lsn(), to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'",
        )
      ).split('|');
      targets.push({ lsn, time });
      await sleep(20);
      await setup.cluster.psql(`insert into marks values (${batch})`);
      segments.push(await switchWal(setup));
    }
    await waitArchived(setup, segments.at(-1) as string);
    const middle = segments[1] as string;
    const dir = join(setup.repoPath, 'archive', setup.stanza, '15-1', middle.slice(0, 16));
    const name = (await readdir(dir)).find((entry) => entry.startsWith(`${middle}-`));
    expect(name, `no stored copy of ${middle} in ${dir}`).toBeDefined();
    stored = join(dir, name as string);
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
