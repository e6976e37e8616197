// Peak memory of a restore of the last of a chain of block incrementals (repo1-block=y) on real PostgreSQL 15:
// bounded, and about the same for a chain of 20 as for a chain of 4 (restore keeps every part of a file open).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureOk } from '../../bench/measure.js';
import { takeBackup } from '../harness/backups.js';
import { PGSTASH_BIN } from '../harness/pgstash.js';
import { RestoreBench } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';

const ROWS = 400_000;
const CHAIN = 20;
const SHORT_CHAIN = 4;
/** Rows updated before each incremental, scattered over the table: each incr stores a few hundred blocks. */
const UPDATES = 300;
/**
 * How much more the chain of 20 may need than the chain of 4. Every part of a file is open at once while it is
 * restored, each with its current frame decoded: with parts in 1 MiB frames the chain of 20 peaked 61 MiB above
 * the chain of 4 (240 MiB), with 128 KiB frames 43 MiB, with the 64 KiB frames parts are stored in now 18 MiB
 * (175 MiB). The margin is for garbage collection timing.
 */
const GROWTH_LIMIT_KIB = 30 * 1024;

describe('restore of the last of a chain of block incrementals', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  const labels: string[] = [];

  /** Restores `label` into a new directory (pg_verifybackup checks it); the restore's peak RSS in KiB. */
  async function restorePeak(label: string): Promise<number> {
    const scratch = await restores.tempDir('time');
    const dataDir = join(await restores.tempDir('restore'), 'data');
    const measured = await measureOk(
      [
        PGSTASH_BIN,
        `--config=${setup.configPath}`,
        `--stanza=${setup.stanza}`,
        'restore',
        `--set=${label}`,
        `--pg1-path=${dataDir}`,
        '--process-max=2',
      ],
      { scratchDir: scratch },
    );
    // The same restore again through the harness: pg_verifybackup checks the result.
    await restores.restore([`--set=${label}`, '--process-max=2']);
    return measured.maxRssKiB;
  }

  beforeAll(async () => {
    setup = await createStanzaSetup({ compressType: 'lz4', global: { 'repo1-block': 'y' } });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    // pgbench_accounts' shape, about 50 MB (8 KiB blocks), with its index; autovacuum off.
    await setup.cluster.psql(
      `create table acc (aid int primary key, bid int, abalance int, filler char(84)) with (autovacuum_enabled = off);
       insert into acc select g, g / 100000, 0, '' from generate_series(1, ${ROWS}) g;
       vacuum freeze acc; checkpoint;`,
      { timeoutSec: 600 },
    );
    labels.push(await takeBackup(setup));
    for (let index = 1; index <= CHAIN; index++) {
      await setup.cluster.psql(
        `update acc set abalance = abalance + 1
           where aid in (select 1 + (random() * ${ROWS - 1})::int from generate_series(1, ${UPDATES}))`,
      );
      labels.push(await takeBackup(setup, ['--type=incr']));
    }
  }, 900_000);

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  it(`needs about as much memory for a chain of ${CHAIN} as for a chain of ${SHORT_CHAIN}`, async () => {
    const short = await restorePeak(labels[SHORT_CHAIN] as string);
    const long = await restorePeak(labels[CHAIN] as string);
    expect(
      long - short,
      `peak RSS ${short} KiB (chain of ${SHORT_CHAIN}), ${long} KiB (${CHAIN})`,
    ).toBeLessThan(GROWTH_LIMIT_KIB);
  }, 600_000);
});
