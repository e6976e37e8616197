// Which of restore's own options its restore_command passes on to archive-get.
import type { OptionDef } from '../../config/definition.js';

/**
 * Options given to restore for its own run, not for the archive-get PostgreSQL runs for every WAL file: the log
 * levels (archive-get's console output lands in the server log, one line per file at info) and process-max
 * (restore's parallelism; archive-get's, for archive-async, comes from the config file). Options that do nothing
 * for archive-get (buffer-size, say) are left out by passThrough itself (the option table's `effectiveFor`). What finds and reads the repository and the cluster (config, repo*, pg*, log-path) is passed
 * on; the config file and the environment the server runs with supply the rest.
 */
const RESTORE_RUN_ONLY = new Set(['log-level-console', 'log-level-stderr', 'log-level-file', 'process-max']);

/** Whether restore's restore_command carries this option (when it was set on restore's command line). */
export function passedToRestoreCommand(option: OptionDef): boolean {
  return !RESTORE_RUN_ONLY.has(option.name);
}
