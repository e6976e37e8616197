// backup: an online, consistent full backup of a running cluster into one repository.
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatBytes } from '../../common/size.js';
import { PgStashError } from '../../common/errors.js';
import { acquireLock } from '../../common/lock.js';
import { log } from '../../common/log.js';
import { compressExtension } from '../../io/compress.js';
import { readControlFile } from '../../postgres/control.js';
import { formatLsn } from '../../postgres/lsn.js';
import { segmentsBetween } from '../../postgres/wal-name.js';
import { writeBackupInfo, type BackupRecord } from '../../repo/backup-info.js';
import { describeDb, sameCluster } from '../../repo/db-history.js';
import { backupLabel } from '../../repo/label.js';
import { repoLayout } from '../../repo/layout.js';
import { writeManifest, type Manifest, type ManifestFile, type ManifestOwner } from '../../repo/manifest.js';
import { Repository, type CompressSettings } from '../../repo/repository.js';
import { waitForArchive } from '../archive/wait.js';
import { throwIfAborted, type CommandContext } from '../context.js';
import { selectRepo } from '../repo-select.js';
import { checkArchiveSettings } from '../archive-settings.js';
import { checkRepoOutsideData } from '../repo-placement.js';
import { compressSettings } from '../compress-settings.js';
import { checkServerRunsFrom, connectFromConfig } from '../server-check.js';
import { copyDataDirectory, ownerOf } from './copy-files.js';
import { removeStaleBackups } from './stale.js';

/** Stores a small generated file (backup_label, tablespace_map, an archived segment) in the backup. */
async function putGenerated(
  repo: Repository,
  backupPath: string,
  name: string,
  source: Readable,
  options: { compress: CompressSettings; owner: ManifestOwner; mtime: number },
): Promise<ManifestFile> {
  const extension = compressExtension(options.compress.type);
  const stored = await repo.put(source, `${backupPath}/${name}${extension}`, options.compress);
  const { mode, uid, gid, user, group } = options.owner;
  return {
    name,
    size: stored.size,
    mtime: options.mtime,
    sha256: stored.sha256,
    repoSize: stored.repoSize,
    mode,
    uid,
    gid,
    user,
    group,
  };
}

/**
 * `41.0 s (copy 18.6 s, WAL wait 22.1 s)`: the whole command's time, then the copy (pg_backup_start to
 * pg_backup_stop) and the wait for the backup's WAL to reach the archive, which can take longer than the copy.
 */
function formatDurations(times: { totalMs: number; copyMs: number; walWaitMs: number | undefined }): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const parts = [`copy ${seconds(times.copyMs)}`];
  if (times.walWaitMs !== undefined) parts.push(`WAL wait ${seconds(times.walWaitMs)}`);
  return `${seconds(times.totalMs)} (${parts.join(', ')})`;
}

export async function backup(context: CommandContext): Promise<number> {
  const commandStarted = performance.now();
  const { config, signal } = context;
  const stanza = config.require('stanza');
  const pgPath = config.require('pg1-path');
  const type = config.get('type', 'backup');
  if (type !== 'full') {
    throw new PgStashError(
      'featureNotSupported',
      `backup --type=${type} is not supported yet: use --type=full`,
    );
  }
  const compress = compressSettings(config);
  const repoOptions = selectRepo(config);
  await checkRepoOutsideData([repoOptions], pgPath);
  const lock = await acquireLock({
    lockPath: config.get('lock-path'),
    stanza,
    type: 'backup',
  });
  let backupPath: string | undefined;
  const repo = await Repository.open(repoOptions, stanza);
  const session = await connectFromConfig(config);
  try {
    const key = await repo.requireKey();
    const archiveInfo = await repo.requireArchiveInfo();
    const backupInfo = await repo.backupInfo();
    if (backupInfo === undefined) {
      throw new PgStashError('fileMissing', `${repo.name}: backup.info is missing for stanza '${stanza}'`, {
        hint: `run 'pgstash --stanza=${stanza} stanza-create'`,
      });
    }
    const control = await readControlFile(pgPath);
    const server = {
      version: String(Math.floor((await session.serverVersionNum()) / 10000)),
      systemId: await session.systemIdentifier(),
    };
    await checkServerRunsFrom(session, { systemId: server.systemId, pgPath, control, port: config.pg.port });
    if (!sameCluster(backupInfo.current, server) || !sameCluster(archiveInfo.current, server)) {
      throw new PgStashError(
        'backupMismatch',
        `stanza '${stanza}' is for ${describeDb(backupInfo.current)}, the server is ${describeDb(server)}`,
      );
    }
    if (await session.isInRecovery()) {
      throw new PgStashError(
        'featureNotSupported',
        'backup from a standby is not supported yet: run it on the primary',
      );
    }
    // Before anything is copied: a backup whose WAL never reaches this stanza would fail only at its very end.
    if (config.get('archive-check') || config.get('archive-copy'))
      await checkArchiveSettings(session, stanza, { notPgstash: 'warn' });
    await removeStaleBackups(repo, backupInfo);

    // Labels have one-second resolution: never reuse the label of a backup that just finished.
    let started = new Date();
    let label = backupLabel('full', started);
    while (
      backupInfo.backups.some((entry) => entry.label === label) ||
      (await repo.driver.info(repoLayout.backupPath(stanza, label))) !== undefined
    ) {
      await sleep(1000 - (Date.now() % 1000));
      started = new Date();
      label = backupLabel('full', started);
    }
    backupPath = repoLayout.backupPath(stanza, label);
    const tablespaces = await session.tablespaces();
    // How a restored server will read a recovery target time, and the transactions the backup spans (restore
    // chooses the backup for --type=time and --type=xid with them).
    const timezone = await session.serverSetting('TimeZone');
    const timezoneAbbreviations = await session.serverSetting('timezone_abbreviations');
    const xidStart = await session.nextXid();
    const start = await session.backupStart(`pgstash backup ${label}`, config.get('start-fast'));
    log.info(`backup start: label ${label}, WAL ${start.walFile}, lsn ${formatLsn(start.lsn)}`);
    throwIfAborted(signal);

    const tree = await copyDataDirectory(repo, {
      pgPath,
      pgVersion: control.pgVersion,
      tablespaces,
      backupPath,
      compress,
      processMax: config.get('process-max'),
      checksumPage: control.dataChecksumVersion > 0,
      startLsn: start.lsn,
      signal,
    });

    const stop = await session.backupStop();
    const stopped = new Date();
    const xidStop = await session.nextXid();
    log.info(`backup stop: lsn ${formatLsn(stop.lsn)}`);
    const dataOwner =
      tree.paths.find((path) => path.name === 'pg_data') ?? ownerOf({ mode: 0o700, uid: 0, gid: 0 });
    const generated = {
      compress,
      owner: { ...dataOwner, mode: 0o600 },
      mtime: Math.floor(stopped.getTime() / 1000),
    };
    tree.files.push(
      await putGenerated(
        repo,
        backupPath,
        'pg_data/backup_label',
        Readable.from([Buffer.from(stop.labelFile)]),
        generated,
      ),
    );
    if (stop.tablespaceMap !== null && stop.tablespaceMap !== '') {
      tree.files.push(
        await putGenerated(
          repo,
          backupPath,
          'pg_data/tablespace_map',
          Readable.from([Buffer.from(stop.tablespaceMap)]),
          generated,
        ),
      );
    }

    const segments = segmentsBetween(start.timeline, start.lsn, stop.lsn, control.walSegmentSize);
    const walStart = segments[0] ?? start.walFile;
    const walStop = segments.at(-1) ?? start.walFile;
    const archiveCopy = config.get('archive-copy');
    let walWaitMs: number | undefined;
    if (config.get('archive-check') || archiveCopy) {
      log.info(`waiting for WAL ${walStart} to ${walStop} to reach the archive`);
      const waitStarted = performance.now();
      const archived = await waitForArchive([repo], segments, config.get('archive-timeout'));
      walWaitMs = performance.now() - waitStarted;
      if (archiveCopy) {
        for (const segment of archived) {
          throwIfAborted(signal);
          // Through a pass-through stream: the archived copy is decoded and checked, then re-encoded here.
          const pass = new PassThrough({ highWaterMark: 1024 * 1024 });
          const stored = putGenerated(repo, backupPath, `pg_data/pg_wal/${segment.walFile}`, pass, generated);
          try {
            await repo.get(segment.path, pass, { sha256: segment.sha256 });
          } catch (error) {
            pass.destroy(error as Error);
            await stored.catch(() => undefined);
            throw error;
          }
          tree.files.push(await stored);
        }
      }
    }
    throwIfAborted(signal);
    tree.files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

    const record: BackupRecord = {
      label,
      type: 'full',
      timestampStart: Math.floor(started.getTime() / 1000),
      // Rounded up: a time target inside the last second must not pick a backup not yet consistent then.
      timestampStop: Math.ceil(stopped.getTime() / 1000),
      lsnStart: formatLsn(start.lsn),
      lsnStop: formatLsn(stop.lsn),
      walStart,
      walStop,
      dbId: backupInfo.current.id,
      size: tree.files.reduce((sum, file) => sum + file.size, 0),
      repoSize: tree.files.reduce((sum, file) => sum + file.repoSize, 0),
      fileCount: tree.files.length,
      compressType: compress.type,
      encrypted: key !== undefined,
      archiveCopy,
      pageChecksumErrors: tree.files.reduce((sum, file) => sum + (file.pageChecksumErrors?.length ?? 0), 0),
      ...(timezone === undefined ? {} : { timezone }),
      ...(timezoneAbbreviations === undefined ? {} : { timezoneAbbreviations }),
      xidStart,
      xidStop,
    };
    const manifest: Manifest = {
      backup: {
        label: record.label,
        type: record.type,
        timestampStart: record.timestampStart,
        timestampStop: record.timestampStop,
        lsnStart: record.lsnStart,
        lsnStop: record.lsnStop,
        walStart: record.walStart,
        walStop: record.walStop,
        compressType: record.compressType,
        encrypted: record.encrypted,
        archiveCopy: record.archiveCopy,
        ...(timezone === undefined ? {} : { timezone }),
        ...(timezoneAbbreviations === undefined ? {} : { timezoneAbbreviations }),
        xidStart,
        xidStop,
        timeline: start.timeline,
        compressLevel: compress.level,
        checksumPage: control.dataChecksumVersion > 0,
      },
      db: { ...backupInfo.current },
      targets: [
        { name: 'pg_data', type: 'path', path: pgPath },
        ...tablespaces.map((space) => ({
          name: `pg_tblspc/${space.oid}`,
          type: 'link' as const,
          path: space.location,
          tablespaceOid: space.oid,
          ...(space.name === undefined ? {} : { tablespaceName: space.name }),
        })),
      ],
      paths: tree.paths,
      links: tree.links,
      files: tree.files,
    };
    // Every file durable, then the manifest, then backup.info: only a backup listed in backup.info exists for
    // info and restore.
    await repo.driver.flush();
    await writeManifest(repo.driver, stanza, manifest, key);
    await writeBackupInfo(
      repo.driver,
      stanza,
      { ...backupInfo, backups: [...backupInfo.backups, record] },
      key,
    );
    backupPath = undefined;
    const durations = formatDurations({
      totalMs: performance.now() - commandStarted,
      copyMs: stopped.getTime() - started.getTime(),
      walWaitMs,
    });
    context.out(
      `backup ${label} complete in ${durations}: ${record.fileCount} files, ${formatBytes(record.size)} (${formatBytes(record.repoSize)} in ${repo.name}), WAL ${walStart} to ${walStop}\n`,
    );
    if (record.pageChecksumErrors > 0) {
      log.warn(
        `backup ${label} found ${record.pageChecksumErrors} invalid page checksums: see 'pgstash info --set=${label}'`,
      );
    }
    return 0;
  } finally {
    await session.close();
    if (backupPath !== undefined) {
      // Failed or cancelled: remove what was copied (it was never listed, so it was never usable anyway).
      await repo.driver
        .removeTree(backupPath)
        .catch((error: unknown) => log.warn(`unable to remove '${backupPath ?? ''}': ${String(error)}`));
    }
    await lock.release();
  }
}
