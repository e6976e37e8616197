// Resume of a bundled backup (repo1-bundle=y) on real PostgreSQL 15: a full killed with kill -9 while it writes its
// bundles, once its partial manifest records the large files, is resumed by the next full, which keeps the large
// files that verify and copies every bundled file again (bundles are not resumed, as in pgBackRest: the journal
// records no bundled file, and resume.test.ts shows one recorded by an older pgstash is not read back), and restores
// exactly.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interruptBackup, treeBytes } from '../harness/interrupt.js';
import { repoOptions } from '../harness/repository.js';
import { RestoreBench } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { Repository } from '../../src/repo/repository.js';

const SMALL_TABLES = 150;
const LARGE_TABLES = 4;
const RESUMED = /resumed: kept (\d+) files, .*\((\d+) bytes\); copied (\d+) files, .*\((\d+) bytes\)/;
/** resume.ts's report of the entries of the partial manifest it takes into account. */
const RECORDED = /resume backup \S+: (\d+) files recorded as stored/;
/** The bundle size alone (pgBackRest's smallest): the default bundle limit (2MiB) is lowered to it. */
const BUNDLING = ['--repo1-bundle', '--repo1-bundle-size=1MiB'];

describe('resume of a bundled backup', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;

  function contentQuery(): string {
    const parts = [
      ...Array.from(
        { length: SMALL_TABLES },
        (_, i) => `(select md5(string_agg(body, ',' order by id)) from s${i})`,
      ),
      ...Array.from(
        { length: LARGE_TABLES },
        (_, i) => `(select md5(string_agg(body, ',' order by id)) from l${i})`,
      ),
    ];
    return `select md5(${parts.join(' || ')})`;
  }

  beforeAll(async () => {
    setup = await createStanzaSetup({ compressType: 'none', cluster: { settings: { autovacuum: 'off' } } });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    // 150 tables of about 200 KB (bundled) and 4 of about 5 MB (stored alone).
    const creates = [
      ...Array.from(
        { length: SMALL_TABLES },
        (_, i) =>
          `create table s${i} (id int, body text);
           insert into s${i} select g, repeat(md5((g + ${i})::text), 3) from generate_series(1, 1600) g;`,
      ),
      ...Array.from(
        { length: LARGE_TABLES },
        (_, i) =>
          `create table l${i} (id int, body text);
           insert into l${i} select g, repeat(md5((g + ${i})::text), 3) from generate_series(1, 40000) g;`,
      ),
    ];
    await setup.cluster.psql(creates.join('\n'), { timeoutSec: 600 });
    await setup.cluster.psql('checkpoint');
    await sleep(1100);
  }, 600_000);

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
  });

  it('kill -9 mid-bundle: the next full keeps its label and recorded large files, copies the bundled ones again', async () => {
    const dataBytes = await treeBytes(setup.cluster.dataDir);
    const repo = await Repository.open(repoOptions(setup.repoPath), setup.stanza);
    /** The entries the interrupted backup's partial manifest records (none while it cannot be read). */
    const recordedFiles = async (label: string) =>
      (await repo.backups.partial(label).catch(() => undefined))?.files ?? [];
    const { label, result: killed } = await interruptBackup(setup, {
      signal: 'SIGKILL',
      args: BUNDLING,
      pollMs: 5,
      // Some bundles written, more to come; the large files (largest first) are done and recorded by then.
      ready: async (label, dir) => {
        const bundles = await readdir(join(dir, 'bundle')).catch(() => []);
        if (bundles.length < 3) return false;
        if ((await recordedFiles(label)).length === 0) return false;
        return (await treeBytes(join(setup.repoPath, 'backup'))) < 0.9 * dataBytes;
      },
    });
    expect(killed.signal).toBe('SIGKILL');
    // The journal records files stored alone only: a resume copies bundled files again whatever it would record.
    const recorded = await recordedFiles(label);
    const recordedAlone = recorded.filter((file) => file.stored.bundle === undefined);
    const recordedBundled = recorded.filter((file) => file.stored.bundle !== undefined);
    expect(recordedAlone.length).toBeGreaterThan(0);
    expect(recordedBundled).toEqual([]);

    const result = await setup.pgstashOk([
      'backup',
      '--type=full',
      '--start-fast',
      '--process-max=1',
      '--log-level-console=detail',
      ...BUNDLING,
    ]);
    const output = result.stdout + result.stderr;
    expect(output).toContain(`backup ${label} complete`);
    const resumed = RESUMED.exec(output);
    expect(resumed, output).not.toBeNull();
    // Only files stored alone are taken into account.
    expect(RECORDED.exec(output), output).not.toBeNull();
    expect(Number(RECORDED.exec(output)?.[1])).toBeLessThanOrEqual(recordedAlone.length);
    const manifest = await repo.backups.manifest(label);
    const bundled = manifest.files.filter((file) => file.stored.bundle !== undefined);
    expect(bundled.length).toBeGreaterThan(SMALL_TABLES);
    // Kept: only files stored alone (those the journal had recorded by the kill); every bundled file copied again.
    expect(Number(resumed?.[1])).toBeGreaterThan(0);
    expect(Number(resumed?.[1])).toBeLessThanOrEqual(manifest.files.length - bundled.length);
    expect(Number(resumed?.[3])).toBeGreaterThanOrEqual(bundled.length);

    const expected = await setup.cluster.psql(contentQuery());
    const { dataDir } = await restores.restore([`--set=${label}`]);
    const restored = await restores.start(dataDir);
    await restored.waitForRecoveryEnd();
    expect(await restored.psql(contentQuery())).toBe(expected);
  });
});
