// check: config, repositories and server agree, archive_command calls pgstash, and a forced WAL switch arrives.
import { PgStashError } from '../common/errors.js';
import { log } from '../common/log.js';
import { readControlFile } from '../postgres/control.js';
import { describeDb, sameCluster } from '../repo/db-history.js';
import { openRepositories } from '../repo/repository.js';
import { waitForArchive } from './archive/wait.js';
import type { CommandContext } from './context.js';
import { checkArchiveSettings } from './archive-settings.js';
import { checkRepoOutsideData } from './repo-placement.js';
import { checkServerRunsFrom, connectFromConfig } from './server-check.js';

export async function check(context: CommandContext): Promise<number> {
  const { config } = context;
  const stanza = config.require('stanza');
  const repos = await openRepositories(config.repos, stanza);
  const session = await connectFromConfig(config);
  try {
    const versionNum = await session.serverVersionNum();
    const server = {
      version: String(Math.floor(versionNum / 10000)),
      systemId: await session.systemIdentifier(),
    };
    const pgPath = config.get('pg1-path');
    if (pgPath !== undefined) {
      await checkRepoOutsideData(config.repos, pgPath);
      const control = await readControlFile(pgPath);
      await checkServerRunsFrom(session, {
        systemId: server.systemId,
        pgPath,
        control,
        port: config.pg.port,
      });
    }
    for (const repo of repos) {
      const info = await repo.requireArchiveInfo();
      if (!sameCluster(info.current, server)) {
        throw new PgStashError(
          'archiveMismatch',
          `${repo.name} stanza '${stanza}' is for ${describeDb(info.current)}, the server is ${describeDb(server)}`,
          { hint: 'check --stanza, the repository path and pg1-* options' },
        );
      }
    }
    if (await session.isInRecovery()) {
      context.out(`stanza '${stanza}': the server is a standby; repositories and configuration are valid\n`);
      return 0;
    }
    await checkArchiveSettings(session, stanza, { notPgstash: 'error' });
    // A restore point guarantees there is WAL to switch away from, so the switch yields a fresh segment.
    await session.query("select pg_create_restore_point('pgstash check')");
    const { walFile } = await session.switchWal();
    const timeout = config.get('archive-timeout');
    await waitForArchive(repos, [walFile], timeout);
    log.info(`WAL segment ${walFile} successfully archived`);
    context.out(
      `stanza '${stanza}': WAL segment ${walFile} archived to ${repos.map((repo) => repo.name).join(', ')}\n`,
    );
    return 0;
  } finally {
    await session.close();
  }
}
