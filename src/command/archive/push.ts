// archive-push: stores one WAL file from PostgreSQL's archive_command in every configured repository.
//
// Only what the command decides with is imported here: with archive-async=y the answer is usually in the spool
// already, and the repository code (push-wal.ts: storage, compression, node:crypto and streams) would cost that
// process more CPU than the rest of its work.
import { log } from '../../common/log.js';
import type { CommandContext } from '../context.js';

export async function archivePush(context: CommandContext): Promise<number> {
  const { config } = context;
  // The loader guarantees the one positional argument (%p): a missing one is paramRequired (43).
  const walPath = config.args[0] ?? '';
  const stanza = config.require('stanza');
  // archive-async=y: the spool answers, and a background process calls pushWal (async/push-background.ts).
  if (config.get('archive-async')) {
    const code = await (await import('./async/push-async.js')).archivePushAsync(context);
    if (code !== undefined) return code;
  }
  const [{ pushWal }, { openEachRepository }, { compressSettings }, { openWalSource }] = await Promise.all([
    import('./push-wal.js'),
    import('../../repo/repository.js'),
    import('../compress-settings.js'),
    import('./wal-source.js'),
  ]);
  const wal = await openWalSource(walPath);
  const repos = await openEachRepository(config.repos, stanza);
  await pushWal(repos, wal, (repo) => compressSettings(config, repo.options));
  log.info(`pushed WAL file '${wal.name}' to the archive`);
  return 0;
}
