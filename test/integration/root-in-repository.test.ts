// pgstash run as root (a backup from root's crontab, a segment pushed by hand) in a repository and log path that
// the postgres user owns: what it creates there is postgres's, so the postgres user's next archive-push, backup and
// file logging go on working. Before, root's backup left backup.info root's (the next backup failed, 41) and a
// segment root pushed was unreadable by PostgreSQL's retry of it.
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresIds } from '../harness/postgres-user.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { setArchiveCommand, switchUntilArchived, switchWal } from '../harness/wal.js';
import { pgstashCommandLine } from '../harness/pgstash.js';

/** Every entry under `dir` (itself excluded) whose owner is not `uid`. */
async function notOwnedBy(dir: string, uid: number): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if ((await stat(path)).uid !== uid) found.push(path);
  }
  return found;
}

describe('run as root in a repository the postgres user owns', () => {
  let setup: StanzaSetup;
  const postgres = postgresIds();

  beforeAll(async () => {
    setup = await createStanzaSetup({ compressType: 'lz4' });
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await switchUntilArchived(setup);
  });

  afterAll(async () => {
    await setup?.destroy();
  });

  it('backup and archive-push as root leave postgres the owner: its next push, backup and log work', async () => {
    const logPath = join(setup.dir, 'log');
    // Root creates the backup's log file this time.
    await rm(join(logPath, `${setup.stanza}-backup.log`), { force: true });
    await setup.pgstashOk(['backup', '--type=full', '--start-fast', '--pg1-user=postgres'], { as: 'root' });

    // A segment PostgreSQL could not archive (archive_command failing), pushed by hand as root, as a DBA
    // unsticking archiving does; then PostgreSQL's own retry finds it stored identically.
    await setArchiveCommand(setup, 'false');
    const stuck = await switchWal(setup);
    await setup.pgstashOk(['archive-push', join(setup.cluster.dataDir, 'pg_wal', stuck)], { as: 'root' });

    expect(await notOwnedBy(setup.repoPath, postgres.uid)).toEqual([]);
    expect(await notOwnedBy(logPath, postgres.uid)).toEqual([]);

    await setArchiveCommand(
      setup,
      `${pgstashCommandLine(setup.configPath)} --stanza=${setup.stanza} archive-push %p`,
    );
    await switchUntilArchived(setup);
    const incr = await setup.pgstashOk(['backup', '--type=incr', '--start-fast']);
    expect(incr.stdout).toMatch(/backup \d{8}-\d{6}F_\d{8}-\d{6}I complete/);
    expect(incr.stderr).not.toContain('file logging is disabled');
  });
});
