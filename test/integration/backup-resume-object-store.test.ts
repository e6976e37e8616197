// Backup resume with the repository on S3 (versitygw): the partial manifest is a PUT of the whole object, saved once
// manifest-save-threshold bytes were copied; a full killed with -9 after some saves is resumed by the next full,
// which keeps what was recorded, and restores exactly.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Versitygw, type OpenStore } from '../harness/object-stores.js';
import { RestoreBench } from '../harness/restore.js';
import { fiveMegabyteTables, settleMtimes, tablesContentQuery } from '../harness/resume-tables.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';

const TABLES = 40;
const COMPLETE = /backup (\d{8}-\d{6}F) complete/;
const RESUMED = /resumed: kept (\d+) files, .*\((\d+) bytes\); copied (\d+) files, .*\((\d+) bytes\)/;
/** Where the repository lives in the bucket (OpenStore.repoOptions: repo1-path=/pgstash). */
const BACKUP_PREFIX = 'pgstash/backup/main/';

describe.skipIf(!s3Versitygw.available())('backup resume on S3 (versitygw)', () => {
  let open: OpenStore;
  let setup: StanzaSetup;
  let restores: RestoreBench;

  /** The files recorded in the partial manifest of the backup under way, or undefined while there is none. */
  async function recordedFiles(): Promise<{ label: string; files: number } | undefined> {
    const key = (await open.keysUnder(BACKUP_PREFIX)).find((name) =>
      name.endsWith('/backup.manifest.partial'),
    );
    if (key === undefined) return undefined;
    const text = await open.read(key).then(
      (bytes) => bytes.toString('utf8'),
      () => undefined,
    );
    if (text === undefined) return undefined;
    const label = key.slice(BACKUP_PREFIX.length).split('/')[0]!;
    // A PUT replaces the object whole; a read racing it may still see a cut body: ask again.
    try {
      return { label, files: (JSON.parse(text) as { content: { files: unknown[] } }).content.files.length };
    } catch {
      return undefined;
    }
  }

  beforeAll(async () => {
    open = await s3Versitygw.open('resume');
    setup = await createStanzaSetup({
      compressType: 'none',
      cluster: { settings: { autovacuum: 'off', max_wal_size: '1GB' } },
      global: { ...open.repoOptions, 'manifest-save-threshold': '4MiB' },
    });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    // Many files of about 5 MB: each copied file passes the threshold, so the partial manifest is saved as they go.
    await setup.cluster.psql(fiveMegabyteTables(TABLES));
    await settleMtimes(setup.cluster);
  }, 600_000);

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
    await open?.stop();
  });

  it('a full killed with -9 after a few saves is resumed: the recorded files are kept, and it restores exactly', async () => {
    const running = setup.spawn(['backup', '--type=full', '--start-fast', '--process-max=1']);
    let ended = false;
    void running.done.then(() => (ended = true));
    let recorded: { label: string; files: number } | undefined;
    const deadline = Date.now() + 300_000;
    // Half the tables' files recorded: the copy is well under way, and well short of its end.
    while (!ended && Date.now() < deadline) {
      recorded = await recordedFiles();
      if (recorded !== undefined && recorded.files >= TABLES / 2) break;
      await sleep(20);
    }
    running.kill('SIGKILL');
    const killed = await running.done;
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
    expect(recorded?.files).toBeGreaterThanOrEqual(TABLES / 2);

    const next = await setup.pgstashOk([
      'backup',
      '--type=full',
      '--start-fast',
      '--process-max=1',
      '--log-level-console=detail',
    ]);
    const output = next.stdout + next.stderr;
    expect(COMPLETE.exec(output)?.[1], output).toBe(recorded!.label);
    const resumed = RESUMED.exec(output);
    expect(resumed, output).not.toBeNull();
    // Every file the killed backup recorded is still the same (nothing wrote since): each is kept.
    expect(Number(resumed![1])).toBeGreaterThanOrEqual(recorded!.files);
    expect(Number(resumed![2])).toBeGreaterThan(0);

    const expected = await setup.cluster.psql(tablesContentQuery(TABLES));
    const { dataDir, result } = await restores.restore([`--set=${recorded!.label}`]);
    expect(result.stdout).toContain(`restored backup set ${recorded!.label}`);
    const restored = await restores.start(dataDir);
    await restored.waitForRecoveryEnd();
    expect(await restored.psql(tablesContentQuery(TABLES))).toBe(expected);
    await restores.stopServers();
  });
});
