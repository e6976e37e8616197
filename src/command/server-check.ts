// Cross-checks that the server pgstash connects to is the cluster whose data directory it reads.
import { userInfo } from 'node:os';
import { PgStashError, isPgStashError } from '../common/errors.js';
import { log } from '../common/log.js';
import { realOrResolved } from '../common/real-path.js';
import type { LoadedConfig } from '../config/load.js';
import { connectPg, type PgSession } from '../postgres/client.js';
import type { ControlData } from '../postgres/control.js';

/**
 * Connects to pg1 as configured. Without pg1-user, the operating-system user is the database user, as libpq and
 * pgBackRest do (the pg driver would otherwise rely on $USER, which cron may not set).
 */
export function connectFromConfig(config: LoadedConfig): Promise<PgSession> {
  const pg = config.pg;
  return connectPg({
    ...(pg.socketPath === undefined ? {} : { socketPath: pg.socketPath }),
    ...(pg.host === undefined ? {} : { host: pg.host }),
    user: pg.user ?? userInfo().username,
    port: pg.port,
    database: pg.database,
    applicationName: `pgstash [${config.command}]`,
  });
}

/**
 * Connects to the server and checks its system identifier matches the control file. With `required: false`, a
 * server that is not reachable is fine (the cluster may be down): the control file alone is used.
 */
export async function checkServerMatchesControl(
  config: LoadedConfig,
  control: ControlData,
  options: { required: boolean },
): Promise<void> {
  let session: PgSession;
  try {
    session = await connectFromConfig(config);
  } catch (error) {
    if (!options.required && isPgStashError(error, 'dbConnect')) {
      log.detail(`server not reachable, using the control file only: ${error.message}`);
      return;
    }
    throw error;
  }
  try {
    const systemId = await session.systemIdentifier();
    if (systemId !== control.systemId) {
      throw new PgStashError(
        'dbMismatch',
        `the server on port ${config.pg.port} (system-id ${systemId}) is not the cluster in '${config.str('pg1-path') ?? ''}' (system-id ${control.systemId})`,
        { hint: 'check pg1-path, pg1-port and pg1-socket-path' },
      );
    }
    const pgPath = config.str('pg1-path');
    if (pgPath !== undefined) await checkDataDirectory(session, pgPath, config.pg.port);
  } finally {
    await session.close();
  }
}

/**
 * Checks that the server runs from pg1-path (both with links resolved). The system identifier alone does not
 * tell a cluster from its standby or from a copy on another port: a backup would then copy one cluster's files
 * between the other's backup start and stop, and look valid. A role that may not read data_directory (neither
 * superuser nor pg_read_all_settings) gets a warning instead.
 */
export async function checkDataDirectory(session: PgSession, pgPath: string, port: number): Promise<void> {
  let dataDirectory: string | undefined;
  try {
    dataDirectory = await session.setting('data_directory');
  } catch (error) {
    if (!isPgStashError(error, 'dbQuery')) throw error;
    log.warn(`unable to compare pg1-path with the server's data_directory: ${error.message}`);
    return;
  }
  if (dataDirectory === undefined) return;
  if ((await realOrResolved(pgPath)) !== (await realOrResolved(dataDirectory))) {
    throw new PgStashError(
      'dbMismatch',
      `the server on port ${port} runs from '${dataDirectory}', not from pg1-path '${pgPath}'`,
      { hint: 'check pg1-path, pg1-port and pg1-socket-path: they must name the same cluster' },
    );
  }
}
