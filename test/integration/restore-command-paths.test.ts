// restore_command through a config path with spaces, quotes and '%' (which PostgreSQL expands in restore_command):
// the restored server fetches its WAL through it and reaches consistency; with archive-async, through a spool path
// like it too, most segments moved out of the spool by restore_command itself.
import { appendFile, copyFile, chown, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeBackup } from '../harness/backups.js';
import { postgresIds } from '../harness/postgres-user.js';
import { runPgstash } from '../harness/pgstash.js';
import { RestoreBench, verifyBackup, waitReplayPaused } from '../harness/restore.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { switchWal, waitArchived } from '../harness/wal.js';

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

  it("with archive-async, restore_command moves prefetched segments out of a spool path with '%p', spaces and quotes", async () => {
    const { uid, gid } = postgresIds();
    const configDir = join(setup.dir, `async it's "50%" %p`);
    const spool = join(configDir, `spool %f it's "100%"`);
    await mkdir(spool, { recursive: true });
    for (const dir of [configDir, spool]) await chown(dir, uid, gid);
    const configPath = join(configDir, 'pgstash %r.conf');
    await copyFile(setup.configPath, configPath);
    await appendFile(configPath, `\n[${setup.stanza}:archive-get]\narchive-async=y\nspool-path=${spool}\n`);
    await chown(configPath, uid, gid);
    // WAL past the backup: a default restore replays it all, each segment through restore_command.
    for (let round = 0; round < 6; round++) {
      await setup.cluster.psql(
        `insert into kept select g from generate_series(${round * 1000 + 101}, ${round * 1000 + 1100}) g`,
      );
      await waitArchived(setup, await switchWal(setup));
    }
    const rows = await setup.cluster.psql('select count(*) from kept');

    const dataDir = join(await restores.tempDir('restore'), 'data');
    const result = await runPgstash(
      [`--config=${configPath}`, `--stanza=${setup.stanza}`, 'restore', `--pg1-path=${dataDir}`],
      { as: 'postgres' },
    );
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const autoConf = await readFile(join(dataDir, 'postgresql.auto.conf'), 'utf8');
    const systemId = await setup.cluster.psql('select system_identifier from pg_control_system()');
    // The spool path quoted for the shell, every '%' doubled for PostgreSQL, then written as a setting's value.
    const spoolDir = join(spool, 'archive', setup.stanza, 'in', systemId);
    const forShell = `'${spoolDir.replaceAll("'", `'\\''`).replaceAll('%', '%%')}'`;
    const value = `mv ${forShell}/%f "%p" 2>/dev/null || exec `;
    expect(autoConf).toContain(`restore_command = '${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}`);

    const restored = await restores.start(dataDir);
    await restored.waitForRecoveryEnd(120);
    expect(await restored.psql('select count(*) from kept')).toBe(rows);
    expect(await restored.logTail(200)).not.toMatch(/ERROR: \[0\d\d\]/);
    // pgstash served the first segment (the spool was empty) and started the prefetch; the move took the rest.
    const log = await readFile(join(setup.dir, 'log', `${setup.stanza}-archive-get.log`), 'utf8');
    const byPgstash = log.match(/found [0-9A-F]{24} in the archive asynchronously/g) ?? [];
    expect(byPgstash.length).toBeGreaterThan(0);
    expect(byPgstash.length).toBeLessThan(6);
  });
});
