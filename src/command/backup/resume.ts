// Backup resume (pgBackRest's backupResumeFind/backupResumeClean): an interrupted backup's directory is taken over
// by the next backup of the same kind, which keeps each stored file it can prove and copies the rest.
//
// What is proven: the interrupted backup recorded a file in its partial manifest only once the file was durable
// (CopyJournal); the next backup keeps it when the source's size and mtime are still those recorded, its mtime is
// older than the interrupted backup's start (a file written in the second it was copied may have changed unseen),
// it is stored exactly as this backup would store it, and its stored copy reads back to the recorded SHA-256 and
// size. Everything else is copied again; stored files no kept entry names are removed.
import { log } from '../../common/log.js';
import { formatBytes } from '../../common/size.js';
import { compressExtension } from '../../io/compress.js';
import type { DataDirEntry } from '../../postgres/data-dir.js';
import type { BackupType } from '../../repo/backup-info.js';
import type { PartialManifest } from '../../repo/backup-store.js';
import { isEmptyFile, type FileStorage, type ManifestDb, type ManifestFile } from '../../repo/manifest.js';
import type { ResumableManifest } from '../../repo/manifest-parse.js';
import type { Repository } from '../../repo/repository.js';
import { ownerOf } from './copy-files.js';

/**
 * How often the copy records the files it has made durable in the partial manifest: every `intervalMs`, or sooner
 * once `pendingBytes` of files wait. Each record costs the workers' fsync (due at the end anyway) and a rewrite of the
 * partial manifest. Locally: every second or 8 MiB (at a few hundred MB/s a second of files is a lot to copy again).
 * On an object store a rewrite is a PUT of the whole partial manifest: every 30 s or 1 GiB (pgBackRest saves its
 * manifest every 1 GiB, manifest-save-threshold), so a resume copies again at most that much; a bundled full of
 * pgbench scale 10 on S3 rewrote it (and its copy) a few times for nothing a resume keeps. manifest-save-threshold,
 * when set, replaces the bytes of either.
 */
const JOURNAL_CADENCE = {
  local: { intervalMs: 1000, pendingBytes: 8 * 1024 * 1024 },
  objectStore: { intervalMs: 30_000, pendingBytes: 1024 * 1024 * 1024 },
} as const;

/** What the new backup is: a leftover is resumed only when it was the same. */
export interface ResumeWanted {
  readonly type: BackupType;
  readonly prior: string | undefined;
  /** How this backup stores the files it copies (its holder is ignored: the leftover's label is kept). */
  readonly storage: Omit<FileStorage, 'holder'>;
  readonly checksumPage: boolean;
  readonly db: ManifestDb;
}

/** Counts for the report: files kept from the interrupted backup. */
export interface ResumeCounts {
  files: number;
  bytes: number;
}

/** Why leftover `found` cannot be resumed by a backup that is `wanted`, or undefined when it can. */
export function resumeMismatch(found: ResumableManifest, wanted: ResumeWanted): string | undefined {
  const { backup, db } = found;
  if (backup.type !== wanted.type) return `it is a ${backup.type} backup, this one is ${wanted.type}`;
  if (backup.prior !== wanted.prior)
    return `its prior is ${backup.prior ?? 'none'}, this backup's is ${wanted.prior ?? 'none'}`;
  if (db.systemId !== wanted.db.systemId || db.version !== wanted.db.version)
    return 'it is of another cluster';
  if (
    backup.compressType !== wanted.storage.compressType ||
    backup.compressLevel !== wanted.storage.compressLevel
  )
    return `its compression (${backup.compressType} level ${backup.compressLevel}) differs from this backup's (${wanted.storage.compressType} level ${wanted.storage.compressLevel})`;
  if (backup.encrypted !== (wanted.storage.cipher !== 'none')) return 'its cipher differs from this backup’s';
  if (backup.checksumPage !== wanted.checksumPage) return 'page checksum verification differs';
  return undefined;
}

/** A leftover this backup resumes: its label (kept, as pgBackRest does) and the entries it recorded. */
export class Resumable {
  readonly counts: ResumeCounts = { files: 0, bytes: 0 };
  readonly #repo: Repository;
  readonly #found: ResumableManifest;
  readonly #storage: FileStorage;
  /** Recorded entries this backup may still keep, by name. */
  readonly #recorded = new Map<string, ManifestFile>();

  constructor(repo: Repository, found: ResumableManifest, storage: Omit<FileStorage, 'holder'>) {
    this.#repo = repo;
    this.#found = found;
    this.#storage = { ...storage, holder: found.backup.label };
    for (const file of found.files) {
      // Changed in the second the interrupted backup started or later: it may have changed after its copy. A
      // bundled file is copied again (as pgBackRest does): its bundle is removed with the unrecorded files.
      if (file.mtime < found.backup.timestampStart && file.stored.bundle === undefined)
        this.#recorded.set(file.name, file);
    }
  }

  get label(): string {
    return this.#found.backup.label;
  }

  /**
   * Takes the directory over: the partial manifest gets this backup's start (and only the entries it may keep),
   * and stored files no such entry names (copies never recorded as durable) are removed.
   */
  async begin(partial: PartialManifest): Promise<void> {
    await this.#repo.backups.takeOverPartial(partial, [...this.#recorded.values()]);
    const named = new Set([...this.#recorded.values()].flatMap(storedNames));
    const unproven = (await this.#repo.backups.storedNames(this.label)).filter((name) => !named.has(name));
    await this.#repo.backups.removeStored(this.label, unproven);
    log.info(
      `resume backup ${this.label}: ${this.#recorded.size} files recorded as stored, ${unproven.length} unrecorded removed`,
    );
  }

  /** The copy's reuse hook: the recorded entry when the file is proven unchanged and its stored copy verifies. */
  readonly reuse = async (entry: DataDirEntry): Promise<ManifestFile | undefined> => {
    const file = this.#recorded.get(entry.name);
    if (file === undefined) return undefined;
    const stored = file.stored;
    const proven =
      file.size === entry.size &&
      file.mtime === entry.mtime &&
      stored.holder === this.#storage.holder &&
      stored.compressType === this.#storage.compressType &&
      stored.compressLevel === this.#storage.compressLevel &&
      stored.cipher === this.#storage.cipher &&
      (await this.#verifies(file));
    if (!proven) {
      log.detail(`resume: copy '${entry.name}' again (changed since, or its stored copy does not verify)`);
      return undefined;
    }
    this.counts.files++;
    this.counts.bytes += file.size;
    // The owner may have changed without the content: the entry records it as it is now.
    return { ...file, ...ownerOf(entry) };
  };

  /** Reads the stored copy back through the chunk loop, which checks its SHA-256 and sizes. */
  async #verifies(file: ManifestFile): Promise<boolean> {
    try {
      const chunks = await this.#repo.backups.readFile(file);
      if (chunks === undefined) return false;
      for await (const chunk of chunks) void chunk;
      return true;
    } catch (error) {
      log.detail(`resume: stored copy of '${file.name}' does not verify: ${String(error)}`);
      return false;
    }
  }

  /** After the copy: removes recorded files the backup no longer lists (their source was removed since). */
  async removeUnlisted(files: readonly ManifestFile[]): Promise<void> {
    // Only what this backup's directory holds: a recorded entry held by the prior has nothing here, and a file
    // this backup had stored but now takes from the prior (its stored copy did not verify) is stored here no more.
    const heldHere = (file: ManifestFile) => file.stored.holder === this.label;
    const listed = new Set(files.filter(heldHere).map((file) => file.name));
    const gone = [...this.#recorded.values()]
      .filter((file) => heldHere(file) && !listed.has(file.name))
      .flatMap(storedNames);
    await this.#repo.backups.removeStored(this.label, gone);
  }
}

/**
 * What a recorded file has in the holder's directory: its data and, stored as blocks, its block map (a block-stored
 * file is kept when its map, its blocks in every part and the whole verify: BackupStore.readFile puts it together).
 */
function storedNames(file: ManifestFile): string[] {
  if (isEmptyFile(file) || file.stored.bundle !== undefined) return [];
  const name = `${file.name}${compressExtension(file.stored.compressType)}`;
  return file.stored.block === undefined ? [name] : [name, `block-map/${name}`];
}

/**
 * Deals with every leftover of an interrupted backup or expire (`leftovers`: BackupStore.reconcile's, oldest first;
 * call with the backup lock held): the newest is returned to be resumed when `resume` is on and it matches
 * `wanted`; every other one is removed, saying why. Also returns those labels (the new label must follow them:
 * label.ts).
 */
export async function prepareResume(
  repo: Repository,
  leftovers: readonly string[],
  wanted: ResumeWanted,
  enabled: boolean,
): Promise<{ resumable: Resumable | undefined; leftovers: readonly string[] }> {
  const newest = leftovers.at(-1);
  let resumable: Resumable | undefined;
  if (newest !== undefined && enabled) {
    const found = await resumableFound(repo, newest, wanted);
    if (typeof found === 'string') log.warn(`backup '${newest}' in ${repo.name} cannot be resumed: ${found}`);
    else resumable = new Resumable(repo, found, wanted.storage);
  }
  for (const label of leftovers) {
    if (label === resumable?.label) continue;
    const reason = enabled ? 'left by an interrupted backup' : 'resume is disabled';
    log.warn(`removing incomplete backup '${label}' from ${repo.name} (${reason})`);
    // No backup.info entry names a leftover: its files go.
    await repo.backups.abandon(label);
  }
  return { resumable, leftovers };
}

/** The partial manifest of leftover `label` when this backup can resume it, or why it cannot. */
async function resumableFound(
  repo: Repository,
  label: string,
  wanted: ResumeWanted,
): Promise<ResumableManifest | string> {
  let found: ResumableManifest | undefined;
  try {
    found = await repo.backups.partial(label);
  } catch (error) {
    return `its partial manifest is unreadable: ${String(error)}`;
  }
  if (found === undefined) return 'it has no partial manifest';
  if (found.backup.label !== label) return `its partial manifest is for '${found.backup.label}'`;
  return resumeMismatch(found, wanted) ?? found;
}

/** The report line of a resumed backup: what it kept and what it copied, in bytes a test can read. */
export function resumeReport(label: string, counts: ResumeCounts, files: readonly ManifestFile[]): string {
  const total = files.reduce((sum, file) => sum + file.size, 0);
  const copiedFiles = files.length - counts.files;
  const copiedBytes = total - counts.bytes;
  return `backup ${label} resumed: kept ${counts.files} files, ${formatBytes(counts.bytes)} (${counts.bytes} bytes); copied ${copiedFiles} files, ${formatBytes(copiedBytes)} (${copiedBytes} bytes)\n`;
}

/**
 * Records copied files in the partial manifest every JOURNAL_INTERVAL_MS, after making them durable (the
 * workers' flush): a backup killed at any moment leaves a list of files a resume may verify and keep. A file
 * not listed yet is simply copied again. A failure to record only costs what a resume could have kept.
 */
export class CopyJournal {
  readonly #repo: Repository;
  readonly #partial: PartialManifest;
  readonly #recorded: ManifestFile[] = [];
  #pending: ManifestFile[] = [];
  #pendingBytes = 0;
  #last = Date.now();
  #writing: Promise<void> | undefined;
  #failed = false;
  readonly #cadence: { readonly intervalMs: number; readonly pendingBytes: number };

  /** `saveThreshold`: manifest-save-threshold when set (bytes), instead of the repository kind's. */
  constructor(repo: Repository, partial: PartialManifest, saveThreshold: number | undefined) {
    this.#repo = repo;
    this.#partial = partial;
    const cadence = repo.objectStore ? JOURNAL_CADENCE.objectStore : JOURNAL_CADENCE.local;
    this.#cadence =
      saveThreshold === undefined ? cadence : { intervalMs: cadence.intervalMs, pendingBytes: saveThreshold };
  }

  /** A file is in the backup (copied, or kept by reuse); `flush` makes the workers' writes durable. */
  copied(file: ManifestFile, flush: () => Promise<unknown>): void {
    // A resume copies bundled files again (Resumable): recording them would keep nothing.
    if (this.#failed || file.stored.bundle !== undefined) return;
    this.#pending.push(file);
    this.#pendingBytes += file.size;
    const due =
      Date.now() - this.#last >= this.#cadence.intervalMs || this.#pendingBytes >= this.#cadence.pendingBytes;
    if (this.#writing === undefined && due) {
      this.#writing = this.#record(flush).finally(() => (this.#writing = undefined));
    }
  }

  async #record(flush: () => Promise<unknown>): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    try {
      // Everything in the batch was written before this flush was asked for: after it, all of it is durable.
      const began = performance.now();
      await flush();
      const flushed = performance.now();
      this.#recorded.push(...batch);
      await this.#repo.backups.recordPartial(this.#partial, this.#recorded);
      log.detail(
        `recorded ${batch.length} copied files for a resume (flush ${(flushed - began).toFixed(0)} ms, record ${(performance.now() - flushed).toFixed(0)} ms)`,
      );
    } catch (error) {
      this.#failed = true;
      log.warn(`unable to record the backup's progress for a resume: ${String(error)}`);
    }
    this.#last = Date.now();
  }

  /** Waits for a recording under way (the copy calls it before it returns). */
  async settle(): Promise<void> {
    await this.#writing;
  }
}
