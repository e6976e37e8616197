// restore_command: the archive-get PostgreSQL runs for each WAL file, what restore passes on to it, and its fast
// path through the archive-get spool.
import { getSpoolDir } from '../archive/async/spool.js';
import type { OptionDef } from '../../config/definition.js';
import { loadConfig } from '../../config/load.js';
import { writableSettingValue } from '../../postgres/recovery-config.js';
import { log } from '../../common/log.js';
import { messageOf } from '../../common/errors.js';
import type { CommandContext } from '../context.js';

/**
 * Options given to restore for its own run, not for the archive-get PostgreSQL runs for every WAL file: the log
 * levels (archive-get's console output lands in the server log, one line per file at info) and process-max
 * (restore's parallelism; archive-get's, for archive-async, comes from the config file). Options that do nothing
 * for archive-get (buffer-size, say) are left out by passThrough itself (the option table's `effectiveFor`). What
 * finds and reads the repository and the cluster (config, repo*, pg*, log-path) is passed on; the config file and
 * the environment the server runs with supply the rest.
 */
const RESTORE_RUN_ONLY = new Set(['log-level-console', 'log-level-stderr', 'log-level-file', 'process-max']);

/** Whether restore's restore_command carries this option (when it was set on restore's command line). */
export function passedToRestoreCommand(option: OptionDef): boolean {
  return !RESTORE_RUN_ONLY.has(option.name);
}

/** Quotes one argument for a POSIX shell: restore_command, and the commands Next steps prints. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * restore_command calling this pgstash with the same configuration, for the cluster `systemId` restored from
 * `stanza`. PostgreSQL replaces %f, %p and %r anywhere in restore_command, and %% by '%', before the shell sees it:
 * every '%' of our own arguments (a config, repository or spool path) is written %% so that it arrives as it is.
 *
 * With archive-async on for archive-get, the line first moves the segment from the spool where the background
 * process prefetches it (`mv <spool>/%f "%p"`), and runs pgstash only when it is not there. PostgreSQL waits for
 * restore_command before it replays each segment, so its cost is recovery's per segment: a Node process starts in
 * 30-80 ms where a move takes 2-3 ms. The move serves exactly what pgstash's foreground would (a segment the
 * background wrote whole, fsynced and renamed into the spool of this cluster's system id and stanza), and the
 * background follows the segments taken from the spool either way. Anything else (the segment not spooled yet, a
 * history file, the end of the archive, an error recorded by the background) is pgstash's, run with `exec` so that
 * PostgreSQL sees its exit status and signals as without the move.
 */
export function restoreCommandLine(context: CommandContext, stanza: string, systemId: bigint): string {
  const options = context.config.passThrough('archive-get', passedToRestoreCommand);
  const args = [...context.executable, ...options, `--stanza=${stanza}`, 'archive-get'];
  const escape = (arg: string): string => shellQuote(arg).replaceAll('%', '%%');
  const archiveGet = `${args.map(escape).join(' ')} %f "%p"`;
  const spool = prefetchSpool(options, stanza, systemId);
  if (spool === undefined) return archiveGet;
  return `mv ${escape(spool)}/%f "%p" 2>/dev/null || exec ${archiveGet}`;
}

/**
 * The spool archive-get prefetches into for this cluster, as restore_command's archive-get will resolve it (its
 * own config sections, the options passed on, this environment), or undefined when archive-async is off for it.
 */
function prefetchSpool(options: readonly string[], stanza: string, systemId: bigint): string | undefined {
  try {
    const archiveGet = loadConfig(
      [...options, `--stanza=${stanza}`, 'archive-get', '000000010000000000000001', 'pg_wal/RECOVERYXLOG'],
      process.env,
    );
    if (archiveGet.get('archive-async') !== true) return undefined;
    const spool = getSpoolDir(archiveGet.get('spool-path'), stanza, systemId);
    // A line break cannot be written into postgresql.auto.conf: no fast path, rather than a failed restore.
    return writableSettingValue(spool) ? spool : undefined;
  } catch (error) {
    // The archive-get PostgreSQL runs will say what is wrong; restore_command then simply has no fast path.
    log.detail(`restore_command without the spool fast path: ${messageOf(error)}`);
    return undefined;
  }
}
