// restore: rebuilds a data directory from a backup and sets up recovery to the requested target.
import { chown, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '../../common/log.js';
import { userName } from '../../common/os-users.js';
import { formatBytes } from '../../common/size.js';
import { writePgBackupManifest, type PgManifestFile } from '../../postgres/backup-manifest.js';
import { writeRecoveryConfig } from '../../postgres/recovery-config.js';
import type { Manifest } from '../../repo/manifest.js';
import type { CommandContext } from '../context.js';
import { checkArchiveBeforeRestore } from './archive-warnings.js';
import { prepareDestination, resolveTargets, type ResolvedTarget } from './destination.js';
import { NOT_RESTORED, restoreTree, startRestorePool, type RestorePool } from './files.js';
import { restoreCommandLine, shellQuote } from './restore-command.js';
import { lockRestoreDestination } from './restore-lock.js';
import { checkHoldersPresent } from './holders-check.js';
import { markRestoreReading } from '../../common/read-marker.js';
import { cleanForDelta } from './delta-clean.js';
import type { RestoreJobResult } from './restore-worker.js';
import { selectBackup } from './select-backup.js';
import { selectRestoreSource, type RestoreSource } from './select-repo.js';
import { clearUnfinished, markUnfinished } from './unfinished.js';
import { ProgressReporter, progressSettings } from '../progress/reporter.js';

/** Files PostgreSQL's pg_verifybackup checks: what was restored as-is (not WAL, not the rewritten auto.conf). */
function* verifiableFiles(manifest: Manifest): Iterable<PgManifestFile> {
  for (const file of manifest.files) {
    if (NOT_RESTORED.has(file.name)) continue;
    let path: string;
    if (file.name.startsWith('pg_data/')) path = file.name.slice('pg_data/'.length);
    else if (file.name.startsWith('pg_tblspc/')) path = file.name;
    else continue;
    if (path.startsWith('pg_wal/') || path === 'postgresql.auto.conf') continue;
    yield { path, size: file.size, mtime: file.mtime, sha256: file.sha256 };
  }
}

/** What the server does once it has replayed to the target, by --target-action (PostgreSQL's default: pause). */
const AFTER_TARGET: Readonly<Record<string, string>> = {
  pause:
    'then pauses, read-only: check the data, then run select pg_wal_replay_resume() to promote (or restore again with another target)',
  promote: 'then promotes: a new timeline starts, and the server takes writes',
  shutdown:
    "then shuts down: set recovery_target_action = 'promote' in postgresql.auto.conf and start it again to promote",
};

function nextSteps(
  pgPath: string,
  recovery: { type: string; targetAction?: string; archiveMode?: string },
  targets: readonly ResolvedTarget[],
): string {
  const { type } = recovery;
  const lines = [
    '',
    'Next steps:',
    `  1. optionally verify the restored files:  pg_verifybackup -n ${shellQuote(pgPath)}`,
    `  2. start PostgreSQL:                      pg_ctl -D ${shellQuote(pgPath)} start`,
  ];
  if (type === 'standby') lines.push('  3. the server starts as a standby that follows the archive');
  else if (type === 'default') lines.push('  3. the server replays all archived WAL, then promotes');
  else {
    const reached = type === 'immediate' ? 'replays WAL until consistent' : 'replays WAL to the target';
    lines.push(`  3. the server ${reached}, ${AFTER_TARGET[recovery.targetAction ?? 'pause'] ?? ''}`);
  }
  if (recovery.archiveMode === 'off')
    lines.push("  archiving is off in the restored cluster (--archive-mode=off wrote archive_mode = 'off')");
  if (targets.length > 1)
    lines.push(
      `  tablespaces restored to: ${targets
        .slice(1)
        .map((entry) => shellQuote(entry.path))
        .join(', ')}`,
    );
  return `${lines.join('\n')}\n`;
}

/** restore --delta's account of what it did: the test of a delta restore is what it did not write. */
function deltaSummary(files: RestoreJobResult, removed: number): string {
  return (
    `delta: ${files.kept} files kept (${files.keptBytes} bytes), ${files.written} written (${files.writtenBytes} bytes), ` +
    `${removed} entries removed\n`
  );
}

/**
 * What a restore is asked to do beyond the options restore and drill share (set, target, tablespace maps, ...):
 * restore reads these from its own options (restoreRequest), drill sets them (command/drill/).
 */
export interface RestoreRequest {
  readonly pgPath: string;
  readonly type: 'default' | 'immediate' | 'time' | 'lsn' | 'xid' | 'name' | 'standby' | 'preserve';
  readonly delta: boolean;
  readonly force: boolean;
  /** Written only when set: otherwise PostgreSQL's own default (pause, the table's default too) applies. */
  readonly targetAction?: 'pause' | 'promote' | 'shutdown' | undefined;
  readonly archiveMode: 'preserve' | 'off';
  /** Wins over tablespace-map-all (drill keeps every tablespace inside its scratch directory). */
  readonly tablespaceMapAll?: string | undefined;
}

/** What was restored, for a caller that goes on with it (drill). */
export interface RestoreOutcome {
  readonly label: string;
  /** The index of the repository it was restored from (select-repo.ts). */
  readonly repo: number;
  readonly manifest: Manifest;
  /** Wall time of the file copy, in milliseconds. */
  readonly ms: number;
}

function restoreRequest(context: CommandContext): RestoreRequest {
  const { config } = context;
  return {
    pgPath: config.require('pg1-path'),
    type: config.get('type', 'restore'),
    delta: config.get('delta'),
    force: config.get('force'),
    targetAction: config.has('target-action') ? config.get('target-action') : undefined,
    archiveMode: config.get('archive-mode'),
  };
}

export async function restore(context: CommandContext): Promise<number> {
  await restoreBackup(context, restoreRequest(context));
  return 0;
}

/** Restores as `request` says, with the backup set and recovery options of the command running (restore, drill). */
export async function restoreBackup(
  context: CommandContext,
  request: RestoreRequest,
): Promise<RestoreOutcome> {
  const { config, signal } = context;
  const stanza = config.require('stanza');
  // Before backup.info is read: expire keeps the files of a backup a marked restore may read (read-marker.ts).
  const reading = await markRestoreReading(config.get('lock-path'), stanza);
  const source = await selectRestoreSource(config, stanza, (backups) =>
    selectBackup(backups, {
      set: config.get('set'),
      type: request.type,
      target: config.get('target'),
      recoveryOptions: config.get('recovery-option'),
    }),
  );
  const { repo } = source;
  const key = await repo.requireKey();
  const progress = new ProgressReporter({
    command: 'restore',
    settings: progressSettings(config),
    delta: request.delta,
  });
  // The worker threads boot while the manifest is read and checked (see startRestorePool).
  const pool = startRestorePool(repo, key, {
    processMax: config.get('process-max'),
    signal,
    progress: progress.counter.buffer,
  });
  try {
    return await restoreWithPool(context, source, key, request, pool, progress);
  } finally {
    await progress.stop({ final: false });
    await pool.close();
    await reading?.release();
  }
}

async function restoreWithPool(
  context: CommandContext,
  { repo, selection, history }: RestoreSource,
  key: Buffer | undefined,
  request: RestoreRequest,
  pool: RestorePool,
  progress: ProgressReporter,
): Promise<RestoreOutcome> {
  const { config } = context;
  const stanza = repo.stanza;
  const { pgPath, type, targetAction } = request;
  const chosen = selection.backup;
  for (const note of selection.notes) context.out(`${note}\n`);
  const manifest = await repo.backups.manifest(chosen.label);
  await checkHoldersPresent(repo, manifest);
  const targets = resolveTargets(manifest, pgPath, {
    tablespaceMap: config.get('tablespace-map'),
    tablespaceMapAll: request.tablespaceMapAll ?? config.get('tablespace-map-all'),
  });
  const restoreCommand = restoreCommandLine(context, stanza, manifest.db.systemId);
  const targetTimeline = config.get('target-timeline');
  // Validate the recovery settings before touching the destination: a bad --target must not cost a restore.
  const recovery = {
    type,
    restoreCommand,
    ...(selection.target === undefined ? {} : { target: selection.target }),
    // Written only when set: otherwise PostgreSQL's own default (pause, the table's default too) applies.
    ...(targetAction === undefined ? {} : { targetAction }),
    ...(config.get('target-exclusive') === true ? { targetExclusive: true } : {}),
    ...(targetTimeline === undefined ? {} : { targetTimeline }),
    extraOptions: config.get('recovery-option'),
    archiveMode: request.archiveMode,
  };
  const { recoverySettingLines } = await import('../../postgres/recovery-config.js');
  recoverySettingLines(recovery);
  const timelineNote = await checkArchiveBeforeRestore(config, { repo, history }, chosen, manifest, {
    pgPath,
    type,
    archiveMode: request.archiveMode,
  });

  // Before the destination is looked at or written, a second restore into it fails (50). Should this restore
  // fail, the locks go when the process exits; they are released once pg_control is in (restore-lock.ts).
  const locks = await lockRestoreDestination(pgPath);
  const { delta, force } = request;
  await prepareDestination(targets, { force, locks, delta });
  // From here until pg_control is in, the directory says it holds a restore that did not finish (unfinished.ts).
  await markUnfinished(pgPath, chosen.label);
  // --delta: pg_control out first, then what the backup does not hold (delta-clean.ts).
  const removed = delta ? await cleanForDelta(manifest, targets) : 0;
  log.info(`restore backup set ${chosen.label} into '${pgPath}'`);
  const started = Date.now();
  const restoreOwner = process.getuid?.() === 0;
  // The recovery settings and backup_manifest are durable before pg_control lands, like every restored file:
  // a directory with pg_control is a whole restore, ready to recover as asked.
  const beforeControl = async (): Promise<void> => {
    // The data directory has its final owner by now (files.ts gives directories theirs first).
    const owner = restoreOwner ? await stat(pgPath) : undefined;
    // Tablespace directories were created by this (root) process: hand them to the cluster's owner.
    if (owner !== undefined)
      for (const entry of targets.slice(1)) await chown(entry.path, owner.uid, owner.gid);
    await writeRecoveryConfig(pgPath, recovery);
    const manifestPath = join(pgPath, 'backup_manifest');
    await writePgBackupManifest(manifestPath, {
      files: verifiableFiles(manifest),
      timeline: manifest.backup.timeline,
      startLsn: manifest.backup.lsnStart,
      endLsn: manifest.backup.lsnStop,
    });
    if (owner !== undefined) {
      await chown(manifestPath, owner.uid, owner.gid);
      for (const name of ['recovery.signal', 'standby.signal', 'postgresql.auto.conf']) {
        await chown(join(pgPath, name), owner.uid, owner.gid).catch(() => undefined);
      }
    }
  };
  const written = await restoreTree(pool, manifest, targets, {
    restoreOwner,
    beforeControl,
    delta: delta ? (force ? 'mtime' : 'checksum') : undefined,
    progress,
  });
  await progress.stop({ final: false });
  await clearUnfinished(pgPath);
  await locks.release();
  const ms = Date.now() - started;
  const seconds = (ms / 1000).toFixed(1);
  const owner = userName((await stat(pgPath)).uid) ?? 'the cluster owner';
  context.out(
    `restored backup set ${chosen.label} (${manifest.files.length} files, ${formatBytes(chosen.size)}) into ${pgPath} in ${seconds}s, recovery type '${type}', ${timelineNote}\n` +
      (delta ? deltaSummary(written, removed) : '') +
      nextSteps(pgPath, recovery, targets).replace('pg_ctl', `(as ${owner}) pg_ctl`),
  );
  return { label: chosen.label, repo: repo.options.index, manifest, ms };
}
