// Renders the info model as pgBackRest-style text or as the stable JSON documented in docs/info-json.md.
import { stringifyWithBigInt } from '../../common/json.js';
import { formatBytes } from '../../common/size.js';
import { localTimeText } from '../../common/time-text.js';
import { addedSizes, type BackupRecord } from '../../repo/backup-info.js';
import { timelineJson, timelineLines, unreadableTimelineJson, walMissingLine } from './archive-health.js';
import { STATUS, type StanzaInfo, type Status } from './collect.js';
import { lastDrillJson, lastDrillLines } from './last-drill.js';
import { runningBackupJson, runningBackupLine } from './running-backup.js';

/** The backup in progress of a stanza (in one of its repositories), if any. */
function runningOf(
  stanza: StanzaInfo,
): { running: NonNullable<StanzaInfo['repos'][number]['running']>; repo: number } | undefined {
  for (const repo of stanza.repos)
    if (repo.running !== undefined) return { running: repo.running, repo: repo.repo };
  return undefined;
}

/** status.lock.backup as pgBackRest has it: held, and the running backup's size and bytes complete when known. */
function lockJson(stanza: StanzaInfo): unknown {
  const found = runningOf(stanza);
  const held = stanza.backupLockHeld === true || found?.running.thisHost === true;
  return {
    backup: {
      held,
      ...(found === undefined
        ? {}
        : { size: found.running.record.bytes.total, 'size-cplt': found.running.record.bytes.done }),
    },
  };
}

/** pgBackRest's `ok (backup/expire running - 34.12% complete)`, for a backup lock held or a backup running. */
function runningStatusNote(stanza: StanzaInfo): string {
  const found = runningOf(stanza);
  // An overdue record of another host is not presented as running (its repository line says what is known).
  if (found !== undefined && !found.running.overdue) {
    const where = found.running.thisHost ? '' : ` on host '${found.running.record.host}'`;
    return ` (backup running${where} - ${found.running.percent.toFixed(1)}% complete)`;
  }
  return stanza.backupLockHeld === true ? ' (backup/expire running)' : '';
}

function time(epochSeconds: number): string {
  return localTimeText(epochSeconds * 1000);
}

function backupJson(backup: BackupRecord, repo: number): unknown {
  return {
    label: backup.label,
    type: backup.type,
    prior: backup.prior ?? null,
    timestamp: { start: backup.timestampStart, stop: backup.timestampStop },
    lsn: { start: backup.lsnStart, stop: backup.lsnStop },
    archive: { start: backup.walStart, stop: backup.walStop },
    database: { id: backup.dbId, 'repo-key': repo },
    // size: what a restore of it writes; delta: what this backup added itself (a full: everything).
    info: {
      size: backup.size,
      delta: addedSizes(backup).size,
      'file-count': backup.fileCount,
      repository: { size: backup.repoSize, delta: addedSizes(backup).repoSize },
    },
    reference: backup.references ?? [],
    'compress-type': backup.compressType,
    encrypted: backup.encrypted,
    'archive-copy': backup.archiveCopy,
    'page-checksum-errors': backup.pageChecksumErrors,
    pinned: backup.pinned === true,
    annotation: backup.annotation ?? {},
  };
}

/** `pinned` and the annotations of a backup (pgBackRest prints annotations in info --set only; we always do). */
function annotationLines(backup: BackupRecord): string[] {
  const lines = backup.pinned === true ? ['            pinned: yes (expire keeps it and its priors)'] : [];
  const notes = Object.entries(backup.annotation ?? {});
  if (notes.length > 0)
    lines.push(`            annotation(s): ${notes.map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  return lines;
}

export function renderJson(stanzas: readonly StanzaInfo[]): string {
  const out = stanzas.map((stanza) => ({
    name: stanza.name,
    status: { ...stanza.status, lock: lockJson(stanza) },
    cipher: stanza.repos.every((repo) => repo.cipher === stanza.repos[0]?.cipher)
      ? (stanza.repos[0]?.cipher ?? 'none')
      : 'mixed',
    db: stanza.repos.flatMap((repo) =>
      repo.db.map((db) => ({
        id: db.id,
        'repo-key': repo.repo,
        'system-id': db.systemId,
        version: db.version,
      })),
    ),
    archive: stanza.repos.flatMap((repo) =>
      repo.archive.map((range) => ({
        id: range.id,
        database: { id: range.dbId, 'repo-key': repo.repo },
        min: range.min ?? null,
        max: range.max ?? null,
      })),
    ),
    backup: stanza.repos.flatMap((repo) =>
      repo.backups.map((backup) => {
        const detail = repo.details?.[backup.label];
        const json = {
          ...(backupJson(backup, repo.repo) as object),
          'wal-missing': repo.health?.walMissing[backup.label] ?? [],
        };
        return detail === undefined
          ? json
          : {
              ...json,
              reference: detail.references,
              tablespace: detail.tablespaces,
              'page-checksum-error': detail.pageChecksumErrors,
            };
      }),
    ),
    timeline: stanza.repos.flatMap((repo) => [
      ...(repo.health?.timelines ?? []).map((entry) => timelineJson(entry, repo.repo)),
      ...(repo.health?.unreadable ?? []).map((entry) => unreadableTimelineJson(entry, repo.repo)),
    ]),
    'backup-running': ((found) =>
      found === undefined ? null : runningBackupJson(found.running, found.repo))(runningOf(stanza)),
    drill: lastDrillJson(stanza),
    repo: stanza.repos.map((repo) => ({
      key: repo.repo,
      location: repo.location,
      cipher: repo.cipher,
      status: repo.status,
    })),
  }));
  return `${stringifyWithBigInt(out, 2)}\n`;
}

/** A stanza's status line: ok, mixed (its repositories differ, each line says how), or the error. */
function stanzaStatusText(status: Status): string {
  if (status.code === STATUS.ok.code) return 'ok';
  return status.code === STATUS.mixed.code ? 'mixed' : `error (${status.message})`;
}

export function renderText(stanzas: readonly StanzaInfo[]): string {
  if (stanzas.length === 0) return 'No stanzas exist in the repository.\n';
  const lines: string[] = [];
  for (const stanza of stanzas) {
    const status = stanzaStatusText(stanza.status);
    lines.push(`stanza: ${stanza.name}`, `    status: ${status}${runningStatusNote(stanza)}`);
    lines.push(...lastDrillLines(stanza));
    for (const repo of stanza.repos) {
      const repoStatus = repo.status.code === 0 ? 'ok' : `error (${repo.status.message})`;
      lines.push(`    repo${repo.repo}: ${repo.location}, cipher: ${repo.cipher}, status: ${repoStatus}`);
      if (repo.running !== undefined) lines.push(runningBackupLine(repo.running, repo.repo));
      for (const db of [...repo.db].reverse()) {
        const current = db.id === repo.currentDbId;
        lines.push(
          '',
          `    db (${current ? 'current' : 'prior'}): version ${db.version}, system-id ${db.systemId}`,
        );
        for (const range of repo.archive.filter((entry) => entry.dbId === db.id)) {
          const span = range.min === undefined ? 'none' : `${range.min}/${range.max ?? ''}`;
          lines.push(`        wal archive min/max (${range.id}): ${span}`);
          lines.push(...timelineLines(repo.health, range.id));
        }
        for (const backup of repo.backups.filter((entry) => entry.dbId === db.id)) {
          lines.push(
            '',
            `        ${backup.type} backup: ${backup.label}`,
            `            timestamp start/stop: ${time(backup.timestampStart)} / ${time(backup.timestampStop)}`,
            `            wal start/stop: ${backup.walStart} / ${backup.walStop}`,
            `            lsn start/stop: ${backup.lsnStart} / ${backup.lsnStop}`,
            `            database size: ${formatBytes(backup.size)}, database backup size: ` +
              `${formatBytes(addedSizes(backup).size)}, files: ${backup.fileCount}`,
            `            repo${repo.repo}: backup set size: ${formatBytes(backup.repoSize)}, backup size: ` +
              `${formatBytes(addedSizes(backup).repoSize)}`,
          );
          if (backup.prior !== undefined) lines.push(`            prior backup: ${backup.prior}`);
          lines.push(...annotationLines(backup));
          lines.push(...walMissingLine(repo.health?.walMissing[backup.label]));
          if (backup.pageChecksumErrors > 0)
            lines.push(`            page checksum errors: ${backup.pageChecksumErrors}`);
          const detail = repo.details?.[backup.label];
          if (detail !== undefined) {
            lines.push(
              `            compression: ${backup.compressType}, encrypted: ${backup.encrypted ? 'yes' : 'no'}, archive copy: ${backup.archiveCopy ? 'yes' : 'no'}`,
            );
            lines.push(`            backup reference list: ${detail.references.join(', ') || 'none'}`);
            lines.push(
              `            tablespaces: ${detail.tablespaces.map((space) => `${space.name} (${space.oid}) => ${space.path}`).join(', ') || 'none'}`,
            );
            for (const error of detail.pageChecksumErrors) {
              lines.push(`            invalid pages in ${error.file}: ${error.pages.join(', ')}`);
            }
          }
        }
      }
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}
