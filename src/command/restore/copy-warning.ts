// Warns when a restore makes a copy of the cluster that, once promoted, would archive into the stanza it came from.
import { log } from '../../common/log.js';
import { realOrResolved } from '../../common/real-path.js';
import { readConfigFile } from '../../config/config-file.js';
import type { LoadedConfig } from '../../config/load.js';
import type { Manifest } from '../../repo/manifest.js';

/**
 * The stanza's own data directories: pg1-path as the config file's stanza section sets it (when the command line
 * overrides it), and the data directory the backup was taken from.
 */
function ownDataDirectories(config: LoadedConfig, stanza: string, manifest: Manifest): string[] {
  const own = manifest.targets.filter((target) => target.name === 'pg_data').map((target) => target.path);
  const path = config.get('config');
  if (path === undefined) return own;
  try {
    const configured = readConfigFile(path, { required: false })?.sections.get(stanza)?.get('pg1-path')?.[0];
    if (configured !== undefined) own.push(configured);
  } catch {
    // The loader has read this file already; a file that changed since only costs this comparison.
  }
  return own;
}

/**
 * A restore into a directory other than the stanza's own with archive-mode=preserve keeps the backup's
 * archive_command: promoted, the copy pushes its new timeline into this stanza, and a later restore of the stanza
 * follows that timeline (the newest) and brings back the copy's data. Warns, saying how to avoid it.
 */
export async function warnIfCopyWouldArchiveHere(
  config: LoadedConfig,
  stanza: string,
  restore: { pgPath: string; archiveMode: 'preserve' | 'off' },
  manifest: Manifest,
): Promise<void> {
  const { pgPath } = restore;
  if (restore.archiveMode !== 'preserve') return;
  // pg1-path from the config file or the environment is the stanza's own by definition.
  if (config.source('pg1-path') !== 'command-line') return;
  const own = [...new Set(ownDataDirectories(config, stanza, manifest))];
  const here = await realOrResolved(pgPath);
  for (const path of own) if ((await realOrResolved(path)) === here) return;
  log.warn(
    `restoring into '${pgPath}', not the data directory of stanza '${stanza}' ('${own.join("' or '")}'), with ` +
      `archive-mode=preserve: the copy keeps the backup's archive settings and, once promoted, archives its WAL ` +
      `and its new timeline into stanza '${stanza}', where a later restore of '${stanza}' follows the newest ` +
      `timeline and brings back the copy's data` +
      `\nHINT: for a copy, restore with --archive-mode=off, or point its archive_command at a different stanza before starting it`,
  );
}
