// drill: restore a backup into a scratch directory, recover and promote it there, run checks, report, remove it.
//
// The restore is restore's own (restoreBackup with restore's backup-set and target options); drill only chooses
// where (destination.ts), forces archive_mode off and promotion at the target, and runs the copy as a private
// server (server.ts). The outcome is reported (report.ts) and appended to the stanza's drill history for info.
import { join } from 'node:path';
import { isPgStashError, PgStashError } from '../../common/errors.js';
import { log } from '../../common/log.js';
import type { LoadedConfig } from '../../config/load.js';
import { parseLsn } from '../../postgres/lsn.js';
import { Repository } from '../../repo/repository.js';
import { selectRepo } from '../repo-select.js';
import type { CommandContext } from '../context.js';
import { restoreBackup } from '../restore/index.js';
import { amcheckPath, serverBinDir } from './bin-path.js';
import { countLargestTables, runAmcheck, runUserQuery } from './checks.js';
import { unmarkScratch } from './leftovers.js';
import { drillPlace, handOver, removePlace, removeSocketDir, type DrillPlace } from './destination.js';
import { recoveryEnd } from './recovery-end.js';
import { exitCodeOf, renderDrillJson, renderDrillText, rtoMs, type DrillReport } from './report.js';
import { dataDirectoryOwner, DrillServer, freePort } from './server.js';

/** drill-query and drill-expect go together: a query without an expected value checks nothing. */
function userCheck(config: LoadedConfig): { query: string; expected: string } | undefined {
  const query = config.get('drill-query');
  const expected = config.get('drill-expect');
  if (query === undefined && expected === undefined) return undefined;
  if (query === undefined || expected === undefined) {
    throw new PgStashError(
      'optionRequired',
      `${query === undefined ? 'drill-query' : 'drill-expect'} option required with ${query === undefined ? 'drill-expect' : 'drill-query'}`,
    );
  }
  return { query, expected };
}

export async function drill(context: CommandContext): Promise<number> {
  const { config } = context;
  const stanza = config.require('stanza');
  const repoOptions = selectRepo(config);
  const user = userCheck(config);
  const place = await drillPlace(config, stanza);
  const type = config.get('type', 'drill');
  const target = config.get('target');
  const report: DrillReport = {
    stanza,
    repo: repoOptions.index,
    recovery: { type, ...(target === undefined ? {} : { target }) },
    pgPath: place.pgPath,
    scratch: place.scratch,
    kept: false,
    started: Date.now(),
    result: { kind: 'ok' },
  };
  const servers: DrillServer[] = [];
  try {
    await runDrill(context, place, report, servers, user);
  } catch (error) {
    // A bug is a failed drill too: the copy is stopped and removed all the same, then the error goes on.
    if (!isPgStashError(error)) {
      report.result = { kind: 'unhandled', message: String(error) };
      throw error;
    }
    report.result = { kind: error.kind, message: error.message };
  } finally {
    for (const server of servers) await server.stop();
    await removeSocketDir(place);
    report.totalMs = Date.now() - report.started;
    report.kept = report.result.kind !== 'ok' && config.get('drill-keep-failed');
    if (report.kept) await unmarkScratch(place.scratch);
    else await removePlace(place);
  }
  await recordDrill(config.repos.find((repo) => repo.index === report.repo) ?? repoOptions, stanza, report);
  context.out(config.get('output') === 'json' ? renderDrillJson(report) : renderDrillText(report));
  return exitCodeOf(report);
}

async function runDrill(
  context: CommandContext,
  place: DrillPlace,
  report: DrillReport,
  servers: DrillServer[],
  user: { query: string; expected: string } | undefined,
): Promise<void> {
  const { config, signal } = context;
  const type = config.get('type', 'drill');
  log.info(`drill: restoring into '${place.pgPath}'`);
  // restore's output (its next steps) is not the drill's: the report says what happened.
  const restored = await restoreBackup(
    { ...context, out: () => undefined },
    {
      pgPath: place.pgPath,
      type,
      delta: false,
      force: false,
      // Recovery must end in a promoted server: at the target (restore's default there is pause), or at the end of
      // the archive for type default (PostgreSQL promotes then by itself).
      targetAction: type === 'default' ? undefined : 'promote',
      archiveMode: 'off',
      tablespaceMapAll: config.get('tablespace-map-all') ?? place.tablespaceDir,
    },
  );
  report.label = restored.label;
  // Without --repo, restore took the first repository holding a fitting set (restore/select-repo.ts).
  report.repo = restored.repo;
  report.backupLsnStart = restored.manifest.backup.lsnStart;
  report.restoreMs = restored.ms;

  const binDir = serverBinDir(restored.manifest.db.version, config.get('drill-bin-path'));
  const owner = await dataDirectoryOwner(place.pgPath);
  await handOver(place, owner);
  const server = new DrillServer({
    binDir,
    version: restored.manifest.db.version,
    pgPath: place.pgPath,
    serverDir: place.serverDir,
    socketDir: place.socketDir,
    logFile: join(place.serverDir, 'postgresql.log'),
    port: await freePort(),
    owner,
    user: config.get('pg1-user') ?? owner.name,
    database: config.get('pg1-database'),
  });
  servers.push(server);
  const recoveryStarted = Date.now();
  log.info(
    `drill: starting the restored server on port ${server.settings.port} (socket in '${place.socketDir}')`,
  );
  await server.start();
  await server.waitForPromotion(config.get('drill-timeout') * 1000, signal);
  report.recoveryMs = Date.now() - recoveryStarted;
  const end = await recoveryEnd(place.pgPath);
  if (end !== undefined) {
    report.recoveryEnd = end;
    report.walReplayed = Number(end.lsn - parseLsn(restored.manifest.backup.lsnStart));
  }

  const checksStarted = Date.now();
  report.amcheck = config.get('drill-amcheck')
    ? await runAmcheck(server, amcheckPath(binDir))
    : { status: 'skipped', message: 'drill-amcheck=n' };
  if (user !== undefined) {
    const session = await server.connect();
    try {
      report.query = await runUserQuery(session, user.query, user.expected);
    } finally {
      await session.close();
    }
  }
  try {
    report.tables = await countLargestTables(server);
  } catch (error) {
    if (!isPgStashError(error)) throw error;
    throw new PgStashError('drillCheck', `counting the rows of the largest tables failed: ${error.message}`);
  }
  report.checksMs = Date.now() - checksStarted;
  const failed = [
    ...(report.amcheck.status === 'failed' ? [report.amcheck.message ?? 'pg_amcheck failed'] : []),
    ...(report.query?.status === 'failed' ? [report.query.message ?? 'drill-query failed'] : []),
    ...report.tables
      .filter((table) => table.error !== undefined)
      .map((table) => `count(*) of ${table.database}.${table.schema}.${table.table}: ${table.error ?? ''}`),
  ];
  if (failed.length > 0) throw new PgStashError('drillCheck', failed.join('; '));
}

/** Appends the outcome to the stanza's drill history; a drill whose history cannot be written still reports. */
async function recordDrill(
  repoOptions: ReturnType<typeof selectRepo>,
  stanza: string,
  report: DrillReport,
): Promise<void> {
  try {
    const repo = await Repository.open(repoOptions, stanza);
    const rto = rtoMs(report);
    await repo.drills.append({
      label: report.label ?? '',
      started: report.started,
      stopped: report.started + (report.totalMs ?? 0),
      result: report.result.kind,
      code: exitCodeOf(report),
      rtoMs: rto === undefined ? null : Math.round(rto),
      ...(report.result.message === undefined ? {} : { message: report.result.message }),
    });
  } catch (error) {
    if (!isPgStashError(error)) throw error;
    log.warn(`unable to record the drill in the drill history of repo${repoOptions.index}: ${error.message}`);
  }
}
