// A promoted copy archiving into production's stanza (issue 13, defect 6): restore says which timeline it follows
// and warns about the copy's; info lists the timelines; a restore elsewhere warns that the copy would archive here.
import { readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgCluster } from '../harness/cluster.js';
import { HISTORY_SETTINGS, WriteHistory } from '../harness/history.js';
import { RestoreBench } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { switchWal, waitArchived } from '../harness/wal.js';

async function rowIds(cluster: PgCluster): Promise<number[]> {
  const out = await cluster.psql("select coalesce(string_agg(id::text, ',' order by id), '') from history");
  return out === '' ? [] : out.split(',').map(Number);
}

describe('a promoted copy archiving into the production stanza', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let copyRestoreStderr: string;
  /** Where timeline 2 branched off timeline 1, as the copy's 00000002.history says. */
  let branchLsn: string;
  const PRODUCTION = [1, 2, 3, 4, 5, 6, 7];

  beforeAll(async () => {
    setup = await createStanzaSetup({
      walSegmentSizeMb: 1,
      cluster: { settings: HISTORY_SETTINGS },
    });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    const history = await WriteHistory.create(setup.cluster, 'history');
    for (const id of [1, 2]) await history.write(id);
    await setup.pgstashOk(['backup', '--type=full', '--start-fast']);
    for (const id of [3, 4]) await history.write(id);
    await waitArchived(setup, await switchWal(setup));

    // The test copy: restored elsewhere with the default archive mode, promoted, archiving into this stanza.
    const copy = await restores.restore([]);
    copyRestoreStderr = copy.result.stderr;
    const pg = await restores.start(copy.dataDir, { archive: true });
    await pg.waitForRecoveryEnd();
    await pg.psql("insert into history values (101, 'copy'), (102, 'copy')");
    await waitArchived({ cluster: pg }, await switchWal({ cluster: pg }));
    const historyFile = await readFile(join(copy.dataDir, 'pg_wal', '00000002.history'), 'utf8');
    branchLsn = /^1\t([0-9A-F]+\/[0-9A-F]+)\t/.exec(historyFile)?.[1] ?? '';
    expect(branchLsn, historyFile).not.toBe('');
    await restores.stopServers();

    // Production goes on writing on timeline 1.
    for (const id of [5, 6, 7]) await history.write(id);
    await waitArchived(setup, (await history.finish()).lastSegment);
    expect(await rowIds(setup.cluster)).toEqual(PRODUCTION);
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  it('the restore into another directory warned that the copy would archive into this stanza', () => {
    expect(copyRestoreStderr).toMatch(/not the data directory of stanza 'main'/);
    expect(copyRestoreStderr).toContain('once promoted, archives its WAL and its new timeline into stanza');
    expect(copyRestoreStderr).toContain('--archive-mode=off');
  });

  it("--pg1-path through a link to the stanza's own data directory: no copy warning", async () => {
    const link = join(await restores.tempDir('link'), 'data');
    await symlink(setup.cluster.dataDir, link);
    // Refused: production runs there. The copy warning, checked before, must not have come.
    const result = await setup.pgstash(['restore', `--pg1-path=${link}`]);
    expect(result.code, result.stderr).toBe(38);
    expect(result.stderr).not.toMatch(/not the data directory of stanza/);
    await restores.cleanup();
  });

  it('--archive-mode=off: no copy warning', async () => {
    const { result } = await restores.restore(['--archive-mode=off', '--target-timeline=1']);
    expect(result.stderr).not.toMatch(/not the data directory of stanza/);
    await restores.cleanup();
  });

  it('restore of production warns naming timeline 2 and its branch point; --target-timeline=1 brings production back', async () => {
    const latest = await restores.restore(['--archive-mode=off']);
    expect(latest.result.stdout).toContain(
      'recovery follows timeline 2 (latest: the newest timeline in the archive',
    );
    const warning = latest.result.stderr;
    expect(warning).toContain('2 timelines in the archive continue from backup set');
    expect(warning).toContain("timeline 1: the backup's own");
    expect(warning).toContain(
      `timeline 2 branched off timeline 1 at ${branchLsn} (no recovery target specified)`,
    );
    expect(warning).toMatch(
      /its history file archived \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00 \(repository file time\)/,
    );
    expect(warning).toMatch(
      /timeline 1 went on after that point \(WAL up to 00000001[0-9A-F]{16} is archived on it\)/,
    );
    expect(warning).toContain('--target-timeline=N');
    await restores.cleanup();

    const chosen = await restores.restore(['--archive-mode=off', '--target-timeline=1']);
    expect(chosen.result.stdout).toContain('recovery follows timeline 1 (--target-timeline)');
    // A timeline chosen by number is not warned about.
    expect(chosen.result.stderr).not.toContain('timelines in the archive continue');
    const pg = await restores.start(chosen.dataDir);
    await pg.waitForRecoveryEnd();
    expect(await rowIds(pg)).toEqual(PRODUCTION);
    await restores.cleanup();
  });

  it('info shows both timelines with the branch point and time, in text and JSON', async () => {
    const text = (await setup.pgstashOk(['info'])).stdout;
    expect(text).toContain('timelines (15-1): 1, 2');
    expect(text).toMatch(
      new RegExp(
        `timeline 2 branched off timeline 1 at ${branchLsn} \\(no recovery target specified\\), its history file archived .*\\(repository file time\\)`,
      ),
    );
    expect(text).not.toContain('wal missing');
    const json = JSON.parse((await setup.pgstashOk(['info', '--output=json'])).stdout) as {
      timeline: {
        id: number;
        parent: number;
        'switch-lsn': string;
        'history-archived': { source: string };
      }[];
      backup: { 'wal-missing': string[] }[];
    }[];
    expect(json[0]?.timeline).toEqual([
      expect.objectContaining({
        id: 2,
        parent: 1,
        'switch-lsn': branchLsn,
        'archive-id': '15-1',
        'history-archived': { time: expect.any(Number) as number, source: 'repository-file-mtime' },
      }),
    ]);
    expect(json[0]?.backup[0]?.['wal-missing']).toEqual([]);
  });
});
