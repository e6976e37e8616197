// info: stanzas, their status, clusters, archived WAL range and backups, as text or JSON; --set for one backup.
import { PgStashError } from '../../common/errors.js';
import type { CommandContext } from '../context.js';
import { selectedRepos } from '../repo-select.js';
import { collectBackupDetail, collectInfo } from './collect.js';
import { renderJson, renderText } from './render.js';

export async function info(context: CommandContext): Promise<number> {
  const { config } = context;
  const set = config.get('set');
  const stanza = config.get('stanza');
  if (set !== undefined && set !== 'latest' && stanza === undefined) {
    throw new PgStashError('optionRequired', 'stanza option required with --set');
  }
  // --repo: only that repository, as pgBackRest.
  const repos = selectedRepos(config);
  let stanzas = await collectInfo(repos, stanza, config.get('lock-path'));
  if (set !== undefined && set !== 'latest') {
    stanzas = await collectBackupDetail(stanzas, repos, set);
    if (!stanzas.some((entry) => entry.repos.some((repo) => repo.backups.length > 0))) {
      throw new PgStashError(
        'backupSetInvalid',
        `backup set '${set}' does not exist in stanza '${stanza ?? ''}'`,
      );
    }
  }
  context.out(config.get('output') === 'json' ? renderJson(stanzas) : renderText(stanzas));
  return 0;
}
