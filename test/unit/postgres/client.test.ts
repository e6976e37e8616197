// Integration tests for the PostgreSQL session against a real PostgreSQL 15 primary and a streaming standby.
import { mkdir, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isPgStashError } from '../../../src/common/errors.js';
import { connectPg, describeConnection, type PgSession } from '../../../src/postgres/client.js';
import { readControlFile } from '../../../src/postgres/control.js';
import { formatLsn } from '../../../src/postgres/lsn.js';
import { parseWalFileName, walSegmentName } from '../../../src/postgres/wal-name.js';
import { PgCluster } from '../../harness/cluster.js';
import { postgresIds } from '../../harness/postgres-user.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';

const SEG = 16 * 1024 * 1024;

async function errorOf(action: () => Promise<unknown>): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

function connect(cluster: PgCluster): Promise<PgSession> {
  return connectPg({
    socketPath: cluster.socketDir,
    port: cluster.port,
    user: 'postgres',
    database: 'postgres',
    applicationName: 'pgstash-test',
  });
}

describe('PgSession on a PostgreSQL 15 primary', () => {
  let primary: PgCluster;
  let session: PgSession;
  let scratch: string;

  beforeAll(async () => {
    primary = await PgCluster.create();
    await primary.start();
    session = await connect(primary);
    scratch = await createTempDir({ label: 'client' });
  });

  afterAll(async () => {
    await session?.close();
    await primary?.stop('fast');
    await primary?.destroy();
    if (scratch !== undefined) await removeTempDir(scratch);
  });

  it('reads the version, system identifier and settings', async () => {
    const num = await session.serverVersionNum();
    expect(num).toBeGreaterThanOrEqual(150000);
    expect(num).toBeLessThan(160000);
    expect((await session.versionInfo()).version).toBe('15');
    const systemId = await session.systemIdentifier();
    expect(typeof systemId).toBe('bigint');
    expect(systemId).toBe((await readControlFile(primary.dataDir)).systemId);
    expect(await session.setting('wal_level')).toBe('replica');
    expect(await session.setting('port')).toBe(String(primary.port));
    expect(await session.setting('application_name')).toBe('pgstash-test');
    expect(await session.setting('no_such_setting')).toBeUndefined();
    expect(await session.isInRecovery()).toBe(false);
  });

  it('runs queries with parameters and returns 64-bit values as the driver gives them', async () => {
    const rows = await session.query<{ a: number; b: string }>('select $1::int as a, $2::text as b', [
      7,
      'x',
    ]);
    expect(rows).toEqual([{ a: 7, b: 'x' }]);
    expect(await session.query('select 1 where false')).toEqual([]);
  });

  it('reports the WAL position and switches WAL', async () => {
    const before = await session.currentWalLsn();
    expect(before).toBeGreaterThan(0n);
    await session.query('create table switch_test as select generate_series(1, 100) as i');
    const afterWrite = await session.currentWalLsn();
    expect(afterWrite).toBeGreaterThan(before);

    const switched = await session.switchWal();
    expect(switched.lsn).toBeGreaterThan(afterWrite);
    // pg_walfile_name names the segment the switch completed: the one holding the byte before the end.
    expect(switched.walFile).toBe(walSegmentName(1, switched.lsn - 1n, SEG));
    expect(parseWalFileName(switched.walFile)?.kind).toBe('segment');
    expect(await session.currentWalLsn()).toBeGreaterThanOrEqual(switched.lsn);
  });

  it('takes a non-exclusive backup', async () => {
    const start = await session.backupStart('pgstash test backup', true);
    expect(start.timeline).toBe(1);
    expect(start.walFile).toBe(walSegmentName(1, start.lsn, SEG));
    await session.query('create table during_backup (i int)');
    const stop = await session.backupStop();
    expect(stop.lsn).toBeGreaterThan(start.lsn);
    expect(stop.labelFile).toContain(`START WAL LOCATION: ${formatLsn(start.lsn)} (file ${start.walFile})`);
    expect(stop.labelFile).toContain('LABEL: pgstash test backup');
    expect(stop.labelFile).toContain('START TIMELINE: 1');
    expect(stop.tablespaceMap).toBeNull();
    // No backup runs any more: a second stop is a query error.
    const error = await errorOf(() => session.backupStop());
    expect(isPgStashError(error, 'dbQuery')).toBe(true);
  });

  it('lists user tablespaces and puts them in the tablespace map', async () => {
    expect(await session.tablespaces()).toEqual([]);
    const location = join(scratch, 'ts1');
    await mkdir(location, { mode: 0o700 });
    const { uid, gid } = postgresIds();
    await chown(location, uid, gid);
    await session.query(`create tablespace ts1 location '${location}'`);
    const tablespaces = await session.tablespaces();
    expect(tablespaces).toEqual([{ oid: expect.any(Number) as number, name: 'ts1', location }]);
    const oid = tablespaces[0]?.oid ?? 0;
    expect(oid).toBeGreaterThan(16383);

    await session.backupStart('with tablespace', true);
    const stop = await session.backupStop();
    expect(stop.tablespaceMap).toBe(`${oid} ${location}\n`);
    await session.query('drop tablespace ts1');
  });

  it('fails a bad query with dbQuery (57) naming the query', async () => {
    const error = await errorOf(() => session.query('select * from no_such_table'));
    expect(isPgStashError(error, 'dbQuery')).toBe(true);
    expect((error as { code: number }).code).toBe(57);
    expect((error as Error).message).toBe(
      `unable to execute query 'select * from no_such_table': relation "no_such_table" does not exist`,
    );
    // The session is still usable afterwards.
    expect(await session.isInRecovery()).toBe(false);
  });

  it('fails to connect with dbConnect (56) naming where it tried', async () => {
    const options = { socketPath: primary.socketDir, port: primary.port + 1, database: 'postgres' };
    const error = await errorOf(() => connectPg(options));
    expect(isPgStashError(error, 'dbConnect')).toBe(true);
    expect((error as { code: number }).code).toBe(56);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^unable to connect to 'dbname=postgres port=${primary.port + 1} host=${primary.socketDir}': .+`,
      ),
    );
    expect((error as { hint: string }).hint).toContain('pg1-socket-path');

    const badDb = await errorOf(() =>
      connectPg({ socketPath: primary.socketDir, port: primary.port, user: 'postgres', database: 'nodb' }),
    );
    expect(isPgStashError(badDb, 'dbConnect')).toBe(true);
    expect((badDb as Error).message).toContain('database "nodb" does not exist');
  });

  it('describes connections like libpq', () => {
    expect(describeConnection({ port: 5432, database: 'postgres' })).toBe(
      'dbname=postgres port=5432 host=/var/run/postgresql',
    );
    expect(describeConnection({ host: 'db1', port: 5433, database: 'app', user: 'backup' })).toBe(
      'dbname=app port=5433 host=db1 user=backup',
    );
  });

  it('closes once and refuses queries afterwards', async () => {
    const other = await connect(primary);
    await other.close();
    await other.close();
    const error = await errorOf(() => other.query('select 1'));
    expect(isPgStashError(error, 'dbQuery')).toBe(true);
    expect((error as Error).message).toContain('the connection is closed');
  });

  describe('on a streaming standby', () => {
    let standby: PgCluster;
    let standbySession: PgSession;

    beforeAll(async () => {
      const dataDir = join(scratch, 'standby');
      await primary.runTool('pg_basebackup', ['-D', dataDir, '-X', 'stream', '-R', '-c', 'fast']);
      standby = await PgCluster.fromDataDir(dataDir);
      await standby.start();
      standbySession = await connect(standby);
    });

    afterAll(async () => {
      await standbySession?.close();
      await standby?.stop('fast');
      await standby?.destroy();
    });

    it('knows it is in recovery and refuses to switch WAL', async () => {
      expect(await standbySession.isInRecovery()).toBe(true);
      expect(await standbySession.systemIdentifier()).toBe(await session.systemIdentifier());
      expect(await standbySession.currentWalLsn()).toBeGreaterThan(0n);
      const error = await errorOf(() => standbySession.switchWal());
      expect(isPgStashError(error, 'featureNotSupported')).toBe(true);
      expect((error as Error).message).toBe(
        `unable to switch WAL on '${standbySession.description}': the server is a standby (in recovery)`,
      );
    });

    it('takes a non-exclusive backup on the standby', async () => {
      const start = await standbySession.backupStart('standby backup', true);
      expect(start.timeline).toBe(1);
      expect(start.walFile).toBe(walSegmentName(1, start.lsn, SEG));
      const stop = await standbySession.backupStop();
      expect(stop.labelFile).toContain(`START WAL LOCATION: ${formatLsn(start.lsn)} (file ${start.walFile})`);
      expect(stop.labelFile).toContain('BACKUP FROM: standby');
    });
  });
});
