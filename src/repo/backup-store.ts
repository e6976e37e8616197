// A stanza's backups in one repository: the lifecycle (begin, files, commit, remove) and reading them back.
//
// A backup exists for info, restore and expire only once backup.info lists it. So a backup begins by writing a
// partial manifest into its own directory (`backup.manifest.partial`: never read as a complete manifest; what a
// resumed backup will start from), copies its files, and commits: every file durable, then the manifest, then
// the backup.info entry. A removal goes the other way: a marker that it is expired, the backup.info entry, then the
// files, so a removal killed half-way (or kept for a restore reading it) leaves a marked directory no entry names,
// which the next expire removes. An unmarked directory no entry names whose manifest is complete is a backup
// backup.info lost (lost and written anew by stanza-create, or replaced by an older copy) or one killed between its
// manifest and its entry: reconcile() adds it back, and nothing removes it.
import { isPgStashError, PgStashError } from '../common/errors.js';
import { copy } from '../io/copy.js';
import { compressExtension, type CompressType } from '../io/compress.js';
import type { ChunkStage } from '../io/stage.js';
import { BackupHistory } from './backup-history.js';
import { bundleRuns, ForwardReader } from './bundle-read.js';
import { tarEnd, tarHeader, tarPadding } from './bundle-tar.js';
import { type BackupInfo, type BackupRecord } from './backup-info.js';
import { recordOfManifest } from './backup-record.js';
import { sameCluster } from './db-history.js';
import { BACKUP_PROGRESS_KIND, parseBackupProgress, type BackupProgressRecord } from './backup-progress.js';
import { readInfoFile, writeInfoFile } from './info-file.js';
import type { BlockMap } from './block-map.js';
import { isBlockFile, readBlockFile, readBlockMap, type BlockFile } from './block-read.js';
import { isBackupLabel } from './label.js';
import { copyPathOf, repoLayout } from './layout.js';
import { parsePartialManifest, type ResumableManifest } from './manifest-parse.js';
import {
  blockMapPath,
  bundleMemberOf,
  readManifest,
  isEmptyFile,
  storedFilePath,
  storedFileRead,
  writeManifest,
  type Manifest,
  type ManifestBackup,
  type ManifestDb,
  type ManifestFile,
  type ManifestTarget,
} from './manifest.js';
import type { CompressSettings, Repository, StoredFile } from './repository.js';

const PARTIAL_KIND = 'backup.manifest.partial';

/** What a backup's manifest holds when it begins: everything but what the copy and the stop add. */
export interface PartialManifest {
  readonly backup: Pick<
    ManifestBackup,
    | 'label'
    | 'type'
    | 'prior'
    | 'timestampStart'
    | 'lsnStart'
    | 'walStart'
    | 'timeline'
    | 'compressType'
    | 'compressLevel'
    | 'encrypted'
    | 'checksumPage'
    | 'references'
  >;
  readonly db: ManifestDb;
  readonly targets: readonly ManifestTarget[];
}

export class BackupStore {
  readonly #repo: Repository;
  /** A copy of each completed backup's manifest, kept after the backup for repo-retention-history days. */
  readonly history: BackupHistory;

  constructor(repo: Repository) {
    this.#repo = repo;
    this.history = new BackupHistory(repo);
  }

  get #stanza(): string {
    return this.#repo.stanza;
  }

  /** backup.info, or undefined before stanza-create. */
  info(): Promise<BackupInfo | undefined> {
    return this.#repo.backupInfo();
  }

  /** backup.info, which must exist: fileMissing (55) with a hint to run stanza-create. */
  async requireInfo(): Promise<BackupInfo> {
    const info = await this.info();
    if (info === undefined) {
      throw new PgStashError(
        'fileMissing',
        `${this.#repo.name}: backup.info is missing for stanza '${this.#stanza}'`,
        { hint: `run 'pgstash --stanza=${this.#stanza} stanza-create'` },
      );
    }
    return info;
  }

  /** The complete backups, oldest first. */
  async list(): Promise<readonly BackupRecord[]> {
    return (await this.requireInfo()).backups;
  }

  /** Whether anything (a complete backup, one in progress or a leftover) is stored under `label`. */
  async hasDirectory(label: string): Promise<boolean> {
    return this.#repo.hasPath(repoLayout.backupPath(this.#stanza, label));
  }

  /** Labels of backup directories that `info` does not list: left by a backup that failed or was killed. */
  async incomplete(info: BackupInfo): Promise<string[]> {
    const known = new Set(info.backups.map((backup) => backup.label));
    const labels: string[] = [];
    for await (const entry of this.#repo.driver.list(repoLayout.backupStanza(this.#stanza))) {
      if (entry.type === 'path' && isBackupLabel(entry.name) && !known.has(entry.name))
        labels.push(entry.name);
    }
    return labels.sort();
  }

  /**
   * Starts backup `partial.backup.label`: creates its directory with the partial manifest in it. Refuses a label
   * whose directory exists; a failure leaves no directory. From here until commit, a failed backup calls abandon().
   */
  async begin(partial: PartialManifest): Promise<void> {
    const { label } = partial.backup;
    if (await this.hasDirectory(label)) {
      throw new PgStashError(
        'assert',
        `backup '${label}' already exists in ${this.#repo.name} ('${this.#repo.location}')`,
      );
    }
    try {
      await this.recordPartial(partial, []);
    } catch (error) {
      await this.abandon(label).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Rewrites the partial manifest of begun backup `partial.backup.label` with the files copied so far: each one
   * must already be durable (a resumed backup trusts this list, after verifying each stored copy). Also how a
   * resumed backup takes its leftover directory over (takeOverPartial).
   */
  async recordPartial(partial: PartialManifest, files: readonly ManifestFile[]): Promise<void> {
    const { label } = partial.backup;
    // No `.copy`: each write replaces the file whole (a rename, or one PUT), so a kill leaves the last record, and
    // losing it costs only what a resume could have kept. A copy was a second request per record on an object
    // store, and a DELETE at commit.
    await writeInfoFile(this.#repo.driver, repoLayout.partialManifest(this.#stanza, label), {
      kind: PARTIAL_KIND,
      content: { ...partial, paths: [], links: [], files },
      key: await this.#repo.requireKey(),
      copy: false,
    });
  }

  /**
   * How a resumed backup takes leftover `partial.backup.label` over: recordPartial, and the `.copy` an older pgstash
   * wrote beside the partial manifest removed (commit removes the partial manifest only).
   */
  async takeOverPartial(partial: PartialManifest, files: readonly ManifestFile[]): Promise<void> {
    await this.recordPartial(partial, files);
    await this.#repo.driver.remove(
      copyPathOf(repoLayout.partialManifest(this.#stanza, partial.backup.label)),
    );
  }

  /** The partial manifest of leftover `label`, or undefined when it has none; a damaged one is a format error. */
  async partial(label: string): Promise<ResumableManifest | undefined> {
    const path = repoLayout.partialManifest(this.#stanza, label);
    const raw = await readInfoFile(this.#repo.driver, path, {
      kind: PARTIAL_KIND,
      key: await this.#repo.requireKey(),
    });
    return raw === undefined ? undefined : parsePartialManifest(raw, `${this.#repo.location}/${path}`);
  }

  /** Writes (replaces) the progress record of begun backup `record.label`, which `info` shows while it runs. */
  async recordProgress(record: BackupProgressRecord): Promise<void> {
    await writeInfoFile(this.#repo.driver, repoLayout.backupProgress(this.#stanza, record.label), {
      kind: BACKUP_PROGRESS_KIND,
      content: record,
      key: await this.#repo.requireKey(),
      copy: false,
    });
  }

  /**
   * The last progress record of backup `label` not listed in backup.info (a running backup's, or a dead one's:
   * the caller tells them apart); undefined when there is none or it cannot be read (it is only ever a hint).
   */
  async progress(label: string): Promise<BackupProgressRecord | undefined> {
    const path = repoLayout.backupProgress(this.#stanza, label);
    try {
      const raw = await readInfoFile(this.#repo.driver, path, {
        kind: BACKUP_PROGRESS_KIND,
        key: await this.#repo.requireKey(),
      });
      return raw === undefined ? undefined : parseBackupProgress(raw, `${this.#repo.location}/${path}`);
    } catch {
      return undefined;
    }
  }

  /** Stored file names under backup `label` (e.g. 'pg_data/base/1/1259.zst'), without its manifests. */
  async storedNames(label: string): Promise<string[]> {
    const root = repoLayout.backupPath(this.#stanza, label);
    const names: string[] = [];
    const walk = async (relative: string): Promise<void> => {
      for await (const entry of this.#repo.driver.list(relative === '' ? root : `${root}/${relative}`)) {
        const name = relative === '' ? entry.name : `${relative}/${entry.name}`;
        if (entry.type === 'path') await walk(name);
        else if (relative !== '') names.push(name);
      }
    };
    await walk('');
    return names;
  }

  /** Removes stored files (names as storedNames gives them) of a begun backup. */
  async removeStored(label: string, names: Iterable<string>): Promise<void> {
    const root = repoLayout.backupPath(this.#stanza, label);
    for (const name of names) await this.#repo.driver.remove(`${root}/${name}`);
  }

  /**
   * Stores file `name` of backup `label` from whole chunks (Repository.putChunks). `sync: false` leaves it to
   * commit() (which flushes) or to the writer's own flush (a worker thread's repository).
   */
  putFile(
    label: string,
    name: string,
    chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
    compress: CompressSettings,
    options: {
      sync?: boolean;
      release?: (chunk: Buffer) => void;
      stages?: readonly ChunkStage[];
      frameSize?: number;
    } = {},
  ): Promise<StoredFile> {
    return this.#repo.putChunks(chunks, this.#filePath(label, name, compress.type), compress, options);
  }

  /**
   * Writes bundle `id` of backup `label` in one stream (a multipart upload on an object store): a tar archive
   * (repo/bundle-tar.ts) of `members`, each the stored form of a file (Repository.encodeInMemory) named after it
   * plus its compress type's extension. Resolves to each member's data offset in the bundle, in order. A failure
   * leaves no bundle.
   */
  async putBundle(
    label: string,
    id: number,
    members: AsyncIterable<BundleMember>,
    options: { sync?: boolean } = {},
  ): Promise<number[]> {
    const offsets: number[] = [];
    async function* archive(): AsyncGenerator<Buffer> {
      let position = 0;
      for await (const member of members) {
        const header = tarHeader({ name: member.name, size: member.size, mtime: member.mtime });
        position += header.length;
        offsets.push(position);
        yield header;
        for (const piece of member.stored) yield piece;
        const padding = tarPadding(member.size);
        position += member.size + padding.length;
        if (padding.length > 0) yield padding;
      }
      yield tarEnd();
    }
    const path = repoLayout.bundle(this.#stanza, label, id);
    await copy(archive(), await this.#repo.driver.openWrite(path, { sync: options.sync ?? true }));
    return offsets;
  }

  /** Stores the block map of file `name` of backup `label` (repo/block-map.ts), as the backup stores files. */
  putBlockMap(
    label: string,
    name: string,
    map: Buffer,
    compress: CompressSettings,
    options: { sync?: boolean } = {},
  ): Promise<StoredFile> {
    const path = blockMapPath(this.#stanza, {
      name,
      stored: {
        holder: label,
        compressType: compress.type,
        compressLevel: compress.level,
        cipher: 'none',
        size: 0,
      },
    });
    return this.#repo.putBuffer(map, path, compress, options);
  }

  /** The block map of a block-stored file of a manifest, checked. */
  blockMap(file: BlockFile): Promise<BlockMap> {
    return readBlockMap(this.#repo, file);
  }

  /** Removes stored file `name` of begun backup `label` (a block part that stored no block). */
  async removeFile(label: string, name: string, compressType: CompressType): Promise<void> {
    await this.#repo.driver.remove(this.#filePath(label, name, compressType));
  }

  #filePath(label: string, name: string, compressType: CompressType): string {
    return repoLayout.backupFile(this.#stanza, label, name, compressExtension(compressType));
  }

  /**
   * Makes the backup valid: every file this process wrote durable, then the manifest, then the backup.info
   * entry (appended to backup.info as it is now: the caller holds the stanza's backup lock). Files written by
   * other repository handles (worker threads) must be flushed by them first.
   */
  async commit(manifest: Manifest, record: BackupRecord): Promise<void> {
    const { label } = manifest.backup;
    if (record.label !== label)
      throw new PgStashError('assert', `commit of '${label}' with the record of '${record.label}'`);
    const key = await this.#repo.requireKey();
    await this.#repo.flush();
    await writeManifest(this.#repo.driver, this.#stanza, manifest, key);
    await this.#removePartial(label);
    // Complete: no longer running (the caller stopped recording before committing).
    await this.#repo.driver.remove(repoLayout.backupProgress(this.#stanza, label));
    const info = await this.requireInfo();
    await this.#repo.writeBackupInfo({ ...info, backups: [...info.backups, record] });
  }

  async #removePartial(label: string): Promise<void> {
    await this.#repo.driver.remove(repoLayout.partialManifest(this.#stanza, label));
  }

  /**
   * Removes backup `label`, safely against a kill at any point: its backup.info entry first (from then on no
   * command uses it), then its files, unless `keepFiles` says so. Also removes a directory no entry names. The caller
   * holds the backup lock.
   */
  async remove(label: string, options: { keepFiles?: () => Promise<boolean> } = {}): Promise<void> {
    const info = await this.requireInfo();
    // Marked first: whatever happens next, reconcile() never lists it again.
    await copy(noChunks(), await this.#repo.driver.openWrite(repoLayout.expiredMarker(this.#stanza, label)));
    if (info.backups.some((backup) => backup.label === label)) {
      await this.#repo.writeBackupInfo({
        ...info,
        backups: info.backups.filter((backup) => backup.label !== label),
      });
    }
    // Asked once the entry is gone (expire: is a restore reading backups?): then the files stay, unlisted.
    if ((await options.keepFiles?.()) === true) return;
    await this.#repo.driver.removeTree(repoLayout.backupPath(this.#stanza, label));
  }

  /**
   * Adds back to backup.info (`info`, as read) every complete backup it does not list, as pgBackRest does when it
   * loads backup.info: an unlisted directory not marked expired whose manifest (written only once every file of the
   * backup was durable) reads, of a cluster of the stanza's database history, whose references are all listed.
   * Returns those added (oldest first); the other complete ones (another cluster's, or missing a backup they
   * reference), which nothing may remove; the leftovers (unlisted, marked expired or without a manifest: a killed
   * backup or expire); and backup.info as it is now (written, unless `dryRun`). The caller holds the backup lock.
   */
  async reconcile(
    info: BackupInfo,
    options: { dryRun?: boolean } = {},
  ): Promise<{ info: BackupInfo; added: string[]; kept: string[]; leftovers: string[] }> {
    const backups = [...info.backups];
    const listed = new Set(backups.map((backup) => backup.label));
    const added: string[] = [];
    const kept: string[] = [];
    const leftovers: string[] = [];
    // Labels sort a full before its diffs and incrs: a prior is added before what references it.
    for (const label of await this.incomplete(info)) {
      const expired = await this.#repo.driver.info(repoLayout.expiredMarker(this.#stanza, label));
      const manifest = expired === undefined ? await this.#completeManifest(label) : undefined;
      if (manifest === undefined) {
        leftovers.push(label);
        continue;
      }
      const db = info.history.find((entry) => entry.id === manifest.db.id);
      const ours = db !== undefined && sameCluster(db, manifest.db);
      if (!ours || !manifest.backup.references.every((reference) => listed.has(reference))) {
        kept.push(label);
        continue;
      }
      backups.push(recordOfManifest(manifest));
      listed.add(label);
      added.push(label);
    }
    if (added.length === 0) return { info, added, kept, leftovers };
    // Oldest first, as backup.info lists them (a full's label sorts after an incr of an earlier full started later).
    backups.sort((a, b) => a.timestampStart - b.timestampStart || (a.label < b.label ? -1 : 1));
    const reconciled = { ...info, backups };
    if (options.dryRun !== true) await this.#repo.writeBackupInfo(reconciled);
    return { info: reconciled, added, kept, leftovers };
  }

  /**
   * The manifest of unlisted backup `label`, undefined when it has none. Any other failure (a damaged manifest, a
   * store that does not answer) is thrown: what cannot be read is never taken for a leftover to remove.
   */
  async #completeManifest(label: string): Promise<Manifest | undefined> {
    try {
      return await readManifest(this.#repo.driver, this.#stanza, label, await this.#repo.requireKey());
    } catch (error) {
      if (isPgStashError(error, 'fileMissing')) return undefined;
      throw error;
    }
  }

  /**
   * Replaces the backup.info record of complete backup `label` by `change(record)` (annotations, pin): its
   * manifest first, which keeps them for a backup.info rebuilt from the manifests (reconcile), then backup.info.
   * backupSetInvalid (75) when no backup has that label. The caller holds the backup lock.
   */
  async update(label: string, change: (record: BackupRecord) => BackupRecord): Promise<BackupRecord> {
    const info = await this.requireInfo();
    const record = info.backups.find((backup) => backup.label === label);
    if (record === undefined) {
      throw new PgStashError('backupSetInvalid', `backup set '${label}' is not in ${this.#repo.name}`, {
        hint: `run 'pgstash --stanza=${this.#stanza} info' to list the backups`,
      });
    }
    const changed = change(record);
    if (changed.label !== label) throw new PgStashError('assert', `update of '${label}' changed its label`);
    const manifest = await this.manifest(label);
    const { annotation: _annotation, pinned: _pinned, ...backup } = manifest.backup;
    void _annotation;
    void _pinned;
    const { annotation, pinned } = changed;
    const noted = {
      ...backup,
      ...(annotation === undefined ? {} : { annotation }),
      ...(pinned === undefined ? {} : { pinned }),
    };
    await writeManifest(
      this.#repo.driver,
      this.#stanza,
      { ...manifest, backup: noted },
      await this.#repo.requireKey(),
    );
    await this.#repo.writeBackupInfo({
      ...info,
      backups: info.backups.map((backup) => (backup.label === label ? changed : backup)),
    });
    return changed;
  }

  /** Removes the files of a backup that began and was never committed (backup.info is not read). */
  async abandon(label: string): Promise<void> {
    await this.#repo.driver.removeTree(repoLayout.backupPath(this.#stanza, label));
  }

  /** The manifest of complete backup `label`; fileMissing (55) when it has none. */
  async manifest(label: string): Promise<Manifest> {
    return this.#repo.refusingEncryptedStanza(
      readManifest(this.#repo.driver, this.#stanza, label, await this.#repo.requireKey()),
    );
  }

  /**
   * A file of a backup's manifest, read back as its own `stored` record says (the backup that holds it, its
   * compression and cipher), checked against its checksum and size; undefined when the repository file is missing.
   * `options`: see FileReadOptions.
   */
  readFile(file: ManifestFile, options: FileReadOptions = {}): Promise<AsyncGenerator<Buffer> | undefined> {
    // An empty file has no repository object: nothing to read.
    if (isEmptyFile(file)) return Promise.resolve(noChunks());
    // A block-stored file is put together from the parts its map names, each block and the whole verified.
    if (isBlockFile(file)) return Promise.resolve(readBlockFile(this.#repo, file, options));
    const { path, expect } = storedFileRead(this.#stanza, file);
    return this.#repo.getChunks(path, expect);
  }

  /**
   * The files of one bundle (`files`, all stored in the same bundle) read forward, one streamed ranged read per run
   * of neighbours (repo/bundle-read.ts), in offset order: each file with its original bytes, checked as readFile
   * checks them. Take each file's chunks before asking for the next file (what is left of them is skipped). Memory:
   * what the stream holds and the decoder's frames, never the bundle. fileMissing (55) when the bundle is missing.
   */
  async *readBundle(
    files: readonly ManifestFile[],
  ): AsyncGenerator<{ readonly file: ManifestFile; readonly chunks: AsyncGenerator<Buffer> }> {
    const [first] = files;
    if (first === undefined) return;
    const path = storedFilePath(this.#stanza, first);
    for (const run of bundleRuns(files)) {
      const source = await this.#repo.driver.openRead(path, {
        offset: run.start,
        limit: run.end - run.start,
      });
      if (source === undefined) throw this.#missing(first);
      try {
        const reader = new ForwardReader(source, run.start, `'${this.#repo.location}/${path}'`);
        for (const file of run.files) {
          const read = storedFileRead(this.#stanza, file);
          if (read.path !== path)
            throw new PgStashError('assert', `'${file.name}' is not in bundle '${path}'`);
          const { offset } = bundleMemberOf(file);
          const stored = reader.take(offset, file.stored.size);
          yield { file, chunks: await this.#repo.decodeMember(stored, read.path, read.expect) };
        }
      } finally {
        source.destroy();
      }
    }
  }

  /** readFile, for a file that must be there: fileMissing (55) naming the repository file. */
  async requireFile(file: ManifestFile, options: FileReadOptions = {}): Promise<AsyncGenerator<Buffer>> {
    const chunks = await this.readFile(file, options);
    if (chunks === undefined) throw this.#missing(file);
    return chunks;
  }

  /** fileMissing (55) naming the repository file of `file`. */
  #missing(file: ManifestFile): PgStashError {
    return new PgStashError(
      'fileMissing',
      `backup file '${this.#repo.location}/${storedFilePath(this.#stanza, file)}' is missing`,
      { hint: 'the backup is damaged: restore another backup set with --set' },
    );
  }
}

/** The chunks of an empty file. */
async function* noChunks(): AsyncGenerator<Buffer> {}

/** One member of a bundle being written: a file's stored form, held in memory (small by repoN-bundle-limit). */
export interface BundleMember {
  /** The member's name: the file's manifest name and its compress type's extension. */
  readonly name: string;
  /** The original's modification time (epoch seconds), for the tar header. */
  readonly mtime: number;
  readonly stored: readonly Buffer[];
  /** Bytes of `stored`. */
  readonly size: number;
}

/** How BackupStore.readFile reads a file. */
export interface FileReadOptions {
  /** false: a block-stored file's parts are read without their own whole SHA-256 (readBlockFile). */
  readonly checkParts?: boolean;
}
