// Checks that the server sends its WAL to pgstash for this stanza: check, and backup before it copies anything.
import { PgStashError } from '../common/errors.js';
import { log } from '../common/log.js';
import type { PgSession } from '../postgres/client.js';

/**
 * Fails with archiveDisabled (87) when archive_mode is off, and with archiveCommandInvalid (68) when
 * archive_command names another stanza, or does not call pgstash archive-push. A backup would otherwise copy the
 * whole cluster and only then fail, after archive-timeout, waiting for WAL that never reaches this stanza.
 * `notPgstash: 'warn'` only warns about the last case: a backup allows a wrapper script that calls pgstash (its
 * wait for the WAL still tells whether the WAL arrives), where check insists.
 */
export async function checkArchiveSettings(
  session: PgSession,
  stanza: string,
  options: { notPgstash: 'error' | 'warn' },
): Promise<void> {
  const archiveMode = await session.setting('archive_mode');
  if (archiveMode === 'off') {
    throw new PgStashError('archiveDisabled', "archive_mode is 'off' on the server", {
      hint: 'set archive_mode = on in postgresql.conf and restart PostgreSQL',
    });
  }
  const archiveCommand = (await session.setting('archive_command')) ?? '';
  const hint = `archive_command = 'pgstash --stanza=${stanza} archive-push %p'`;
  const archivingTo = stanzaOfArchiveCommand(archiveCommand);
  if (archivingTo !== undefined && archivingTo !== stanza) {
    throw new PgStashError(
      'archiveCommandInvalid',
      `archive_command '${archiveCommand}' archives to stanza '${archivingTo}', not '${stanza}'`,
      { hint },
    );
  }
  if (!/pgstash/.test(archiveCommand) || !archiveCommand.includes('archive-push')) {
    const message = `archive_command '${archiveCommand}' does not call pgstash archive-push`;
    if (options.notPgstash === 'error') throw new PgStashError('archiveCommandInvalid', message, { hint });
    log.warn(`${message}: the backup waits for its WAL in stanza '${stanza}' all the same`);
  }
}

/**
 * The stanza an archive_command names with --stanza=<name> or --stanza <name>, if it names one. Shell quotes
 * around the option or the name ('--stanza=main', --stanza="main") are looked through.
 */
export function stanzaOfArchiveCommand(command: string): string | undefined {
  return /(?:^|\s)["']?--stanza(?:=|["']?\s+)["']?([^\s"']+)/.exec(command)?.[1];
}
