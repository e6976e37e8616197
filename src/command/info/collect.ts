// Gathers what `info` reports for each stanza from every repository, as one stable model.
import { isPgStashError, messageOf } from '../../common/errors.js';
import { lockHolder } from '../../common/lock.js';
import type { RepoOptions } from '../../config/load.js';
import type { BackupRecord } from '../../repo/backup-info.js';
import type { DbRecord } from '../../repo/db-history.js';
import { archiveId } from '../../repo/layout.js';
import { EncryptedStanzaError } from '../../repo/encrypted-stanza.js';
import { listStanzas, Repository } from '../../repo/repository.js';
import { collectArchiveHealth, type ArchiveHealth } from './archive-health.js';
import type { DrillRecord } from '../../repo/drill-history.js';
import { collectLastDrill } from './last-drill.js';
import { findRunningBackup, type RunningBackup } from './running-backup.js';

/** pgBackRest's stanza status codes, so scripts written for it read ours the same way. */
export const STATUS = {
  ok: { code: 0, message: 'ok' },
  missingStanzaPath: { code: 1, message: 'missing stanza path' },
  noBackups: { code: 2, message: 'no valid backups' },
  missingStanzaData: { code: 3, message: 'missing stanza data' },
  mixed: { code: 4, message: 'different across repos' },
  other: { code: 99, message: 'other' },
} as const;

export interface Status {
  readonly code: number;
  readonly message: string;
}

export interface ArchiveRange {
  readonly id: string;
  readonly dbId: number;
  readonly repo: number;
  readonly min: string | undefined;
  readonly max: string | undefined;
}

/** What `info --set` adds for one backup, from its manifest. */
export interface BackupDetail {
  /** The backups holding files of this one (its manifest's references), oldest first: what it depends on. */
  readonly references: readonly string[];
  readonly tablespaces: readonly { readonly name: string; readonly oid: number; readonly path: string }[];
  readonly pageChecksumErrors: readonly { readonly file: string; readonly pages: readonly number[] }[];
}

export interface RepoStanza {
  readonly repo: number;
  readonly location: string;
  readonly cipher: string;
  readonly status: Status;
  readonly db: readonly DbRecord[];
  readonly currentDbId: number | undefined;
  readonly archive: readonly ArchiveRange[];
  readonly backups: readonly BackupRecord[];
  /** Timelines in the archive, and backups whose WAL is missing from it. */
  readonly health?: ArchiveHealth;
  /** Present when `info --set` asked for one backup: keyed by label. */
  readonly details?: Readonly<
    Record<string, BackupDetail>
  >; /** A backup in progress into this repository (running-backup.ts). */
  readonly running?: RunningBackup;
  /** The newest drill recorded in this repository (last-drill.ts). */
  readonly lastDrill?: DrillRecord;
}

export interface StanzaInfo {
  readonly name: string;
  readonly status: Status;
  readonly repos: readonly RepoStanza[]; /** A backup, expire or stanza-create of the stanza holds its lock on this host (pgBackRest's status.lock.backup). */
  readonly backupLockHeld?: boolean;
}

async function collectRepo(options: RepoOptions, stanza: string, lockPath: string): Promise<RepoStanza> {
  const empty = { db: [], currentDbId: undefined, archive: [], backups: [] };
  // Until the driver is open (it may fail), the configured path stands for the location.
  let base = { repo: options.index, location: options.path, cipher: options.cipherType };
  try {
    // Info lists the archive's directories for its range, its timelines and each backup's WAL: once each.
    const repo = await Repository.open(options, stanza, { listingsOnce: true });
    base = { ...base, location: repo.location };
    if (!(await repo.stanzaExists())) return { ...base, ...empty, status: STATUS.missingStanzaPath };
    await loadKey(repo);
    const archiveInfo = await repo.archiveInfo();
    const backupInfo = await repo.backupInfo();
    if (archiveInfo === undefined || backupInfo === undefined) {
      return { ...base, ...empty, status: STATUS.missingStanzaData };
    }
    const archive: ArchiveRange[] = [];
    for (const db of archiveInfo.history) {
      const id = archiveId(db.version, db.id);
      const range = await repo.wal.range(id);
      if (range.min !== undefined || db.id === archiveInfo.current.id) {
        archive.push({ id, dbId: db.id, repo: options.index, min: range.min, max: range.max });
      }
    }
    const backups = backupInfo.backups;
    const health = await collectArchiveHealth(repo, archive, backups);
    const running = await findRunningBackup(repo, backupInfo, lockPath);
    const lastDrill = await collectLastDrill(repo);
    return {
      ...base,
      health,
      ...(lastDrill === undefined ? {} : { lastDrill }),
      ...(running === undefined ? {} : { running }),
      status: backups.length === 0 ? STATUS.noBackups : STATUS.ok,
      db: backupInfo.history,
      currentDbId: backupInfo.current.id,
      archive,
      backups,
    };
  } catch (error) {
    if (!isPgStashError(error) || keyErrors.has(error) || error instanceof EncryptedStanzaError) throw error;
    return { ...base, ...empty, status: { code: STATUS.other.code, message: messageOf(error) } };
  }
}

/**
 * Errors of loading a stanza key, which fail info rather than becoming a repository's status; so does an encrypted
 * stanza read without a key (EncryptedStanzaError, found by the first info file read).
 */
const keyErrors = new WeakSet<object>();

/**
 * Loads the stanza key. A passphrase that does not unwrap it is a configuration error: info fails with it (95) as
 * every other command does, instead of exiting 0 with the error folded into a status line.
 */
async function loadKey(repo: Repository): Promise<void> {
  try {
    await repo.key();
  } catch (error) {
    if (typeof error === 'object' && error !== null) keyErrors.add(error);
    throw error;
  }
}

/**
 * Stanza names present in any repository (under archive/ or backup/). A repository that cannot be listed (unreachable,
 * unreadable) is left out here and shows its error as its status under each stanza found elsewhere; only when no
 * repository can be listed is there nothing to show, and info fails with the first error.
 */
async function discoverStanzas(repos: readonly RepoOptions[]): Promise<string[]> {
  const names = new Set<string>();
  let firstError: unknown;
  let listed = 0;
  for (const options of repos) {
    try {
      for (const name of await listStanzas(options)) names.add(name);
      listed++;
    } catch (error) {
      if (!isPgStashError(error)) throw error;
      firstError ??= error;
    }
  }
  if (listed === 0 && firstError !== undefined) throw firstError;
  return [...names].sort();
}

/**
 * The stanza's status over its repositories, as pgBackRest has it: their common status when they agree, else
 * 'different across repos' (text: mixed), so a repository in error shows in the stanza's line, not only in its own.
 */
function overallStatus(repos: readonly RepoStanza[]): Status {
  const [first] = repos;
  if (first === undefined) return STATUS.missingStanzaPath;
  return repos.every((repo) => repo.status.code === first.status.code) ? first.status : STATUS.mixed;
}

export async function collectInfo(
  repos: readonly RepoOptions[],
  stanza: string | undefined,
  lockPath: string,
): Promise<StanzaInfo[]> {
  const stanzas = stanza === undefined ? await discoverStanzas(repos) : [stanza];
  const result: StanzaInfo[] = [];
  for (const name of stanzas) {
    const perRepo = await Promise.all(repos.map((options) => collectRepo(options, name, lockPath)));
    const backupLockHeld = (await lockHolder({ lockPath, stanza: name, type: 'backup' })) !== undefined;
    result.push({ name, status: overallStatus(perRepo), repos: perRepo, backupLockHeld });
  }
  return result;
}

/** Keeps only backup `label` in each repository and adds its manifest's detail. */
export async function collectBackupDetail(
  stanzas: readonly StanzaInfo[],
  repos: readonly RepoOptions[],
  label: string,
): Promise<StanzaInfo[]> {
  const result: StanzaInfo[] = [];
  for (const stanza of stanzas) {
    const perRepo: RepoStanza[] = [];
    for (const entry of stanza.repos) {
      const backups = entry.backups.filter((backup) => backup.label === label);
      const options = repos.find((repo) => repo.index === entry.repo);
      if (backups.length === 0 || options === undefined) {
        perRepo.push({ ...entry, backups });
        continue;
      }
      const repo = await Repository.open(options, stanza.name);
      const manifest = await repo.backups.manifest(label);
      const detail: BackupDetail = {
        references: manifest.backup.references,
        tablespaces: manifest.targets
          .filter((target) => target.tablespaceOid !== undefined)
          .map((target) => ({
            name: target.tablespaceName ?? '',
            oid: target.tablespaceOid ?? 0,
            path: target.path,
          })),
        pageChecksumErrors: manifest.files
          .filter((file) => (file.pageChecksumErrors?.length ?? 0) > 0)
          .map((file) => ({ file: file.name, pages: file.pageChecksumErrors ?? [] })),
      };
      perRepo.push({ ...entry, backups, details: { [label]: detail } });
    }
    result.push({ ...stanza, repos: perRepo });
  }
  return result;
}
