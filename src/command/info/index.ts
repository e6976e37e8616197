// info: stanzas, their status, clusters, archived WAL range and backups, as text or JSON.
import type { CommandContext } from '../context.js';
import { collectInfo } from './collect.js';
import { renderJson, renderText } from './render.js';

export async function info(context: CommandContext): Promise<number> {
  const { config } = context;
  const stanzas = await collectInfo(config.repos, config.str('stanza'));
  context.out(config.str('output') === 'json' ? renderJson(stanzas) : renderText(stanzas));
  return 0;
}
