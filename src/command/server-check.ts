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
    await checkServerRunsFrom(session, {
      systemId: await session.systemIdentifier(),
      pgPath: config.require('pg1-path'),
      control,
      port: config.pg.port,
    });
  } finally {
    await session.close();
  }
}

/**
 * Checks that the server (its system identifier read by the caller) is the cluster in pg1-path, whose control
 * file is `control`: the same system identifier, and the server's data_directory is pg1-path (both with links
 * resolved). The identifier alone does not tell a cluster from its standby or from a copy on another port: a
 * backup would then copy one cluster's files between the other's backup start and stop, and look valid. A role
 * that may not read data_directory (neither superuser nor pg_read_all_settings) gets a warning for that part.
 */
export async function checkServerRunsFrom(
  session: PgSession,
  cluster: { systemId: bigint; pgPath: string; control: ControlData; port: number },
): Promise<void> {
  const { systemId, pgPath, control, port } = cluster;
  const hint = 'check pg1-path, pg1-port and pg1-socket-path: they must name the same cluster';
  if (systemId !== control.systemId) {
    throw new PgStashError(
      'dbMismatch',
      `the server on port ${port} (system-id ${systemId}) is not the cluster in pg1-path '${pgPath}' (system-id ${control.systemId})`,
      { hint },
    );
  }
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
      { hint },
    );
  }
}
