// A backup taken with --archive-check=n whose WAL never reached the archive (issue 13): info and restore say that
// PostgreSQL cannot reach consistency from it, and it indeed cannot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestoreBench, waitStoppedByItself } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';

describe('a backup whose WAL is not in the archive', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let walStart: string;

  beforeAll(async () => {
    // archive_mode off: nothing reaches the archive.
    setup = await createStanzaSetup({ walSegmentSizeMb: 1, archive: false });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.pgstashOk(['backup', '--type=full', '--start-fast', '--archive-check=n']);
    const json = JSON.parse((await setup.pgstashOk(['info', '--output=json'])).stdout) as {
      backup: { archive: { start: string } }[];
    }[];
    walStart = json[0]?.backup[0]?.archive.start ?? '';
    expect(walStart).toMatch(/^[0-9A-F]{24}$/);
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  it('info says the backup is not restorable to consistency, naming the segments', async () => {
    const text = (await setup.pgstashOk(['info'])).stdout;
    expect(text).toContain(`wal missing: not restorable to consistency (not in the archive: ${walStart}`);
    const json = JSON.parse((await setup.pgstashOk(['info', '--output=json'])).stdout) as {
      backup: { 'wal-missing': string[] }[];
    }[];
    expect(json[0]?.backup[0]?.['wal-missing'][0]).toBe(walStart);
  });

  it('restore warns naming the segments, and PostgreSQL indeed cannot start from it', async () => {
    const { dataDir, result } = await restores.restore(['--archive-mode=off']);
    expect(result.stderr).toContain(`is not in the archive (repo1): ${walStart}`);
    expect(result.stderr).toContain(
      'PostgreSQL cannot reach a consistent state from this restore without it',
    );
    const pg = await restores.start(dataDir, { wait: false });
    await waitStoppedByItself(pg);
    expect(await pg.logTail(50)).toMatch(/FATAL/);
  });
});
