// restore_command through a config path with spaces, quotes and '%' (which PostgreSQL expands in restore_command):
// the restored server fetches its WAL through it and reaches consistency.
import { copyFile, chown, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeBackup } from '../harness/backups.js';
import { postgresIds } from '../harness/postgres-user.js';
import { runPgstash } from '../harness/pgstash.js';
import { RestoreBench, verifyBackup, waitReplayPaused } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';

describe('restore_command with a config path PostgreSQL would expand', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;

  beforeAll(async () => {
    setup = await createStanzaSetup({ walSegmentSizeMb: 1 });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql('create table kept as select g as id from generate_series(1, 100) g');
    await takeBackup(setup);
  });

  afterAll(async () => {
    await restores.cleanup();
    await setup.destroy();
  });

  it("a config path with '%f', '%p', '%%', spaces and quotes reaches archive-get as written", async () => {
    // %f, %p and %r in restore_command are PostgreSQL's placeholders and %% its escaped '%', anywhere in it.
    const { uid, gid } = postgresIds();
    const configDir = join(setup.dir, `it's a "100%" dir %f`);
    await mkdir(configDir);
    await chown(configDir, uid, gid);
    const configPath = join(configDir, 'pgstash %p %% %r.conf');
    await copyFile(setup.configPath, configPath);
    await chown(configPath, uid, gid);

    const dataDir = join(await restores.tempDir('restore'), 'data');
    const result = await runPgstash(
      [
        `--config=${configPath}`,
        `--stanza=${setup.stanza}`,
        'restore',
        `--pg1-path=${dataDir}`,
        '--type=immediate',
      ],
      { as: 'postgres' },
    );
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect((await verifyBackup(dataDir)).code).toBe(0);
    const autoConf = await readFile(join(dataDir, 'postgresql.auto.conf'), 'utf8');
    // Written %% so that PostgreSQL hands the shell a single '%'.
    expect(autoConf).toContain('100%%');
    expect(autoConf).toContain('pgstash %%p %%%% %%r.conf');

    const restored = await restores.start(dataDir);
    await waitReplayPaused(restored);
    expect(await restored.psql('select count(*) from kept')).toBe('100');
    // Every WAL file came through the config path as written: none failed to be read.
    expect(await restored.logTail(200)).not.toMatch(/ERROR: \[0\d\d\]/);
  });
});
