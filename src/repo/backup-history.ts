// The stanza's backup history (pgBackRest's backup.history): a copy of each backup's manifest, written when the backup
// completes, at backup/<stanza>/backup.history/<YYYY>/<label>.manifest<ext>, compressed as the backup's files are and
// encrypted as the repository is. Nothing reads it to restore; it outlives the backup for the record (sizes, WAL
// ranges, files over time) until expire removes it after repo-retention-history days.
import { PgStashError } from '../common/errors.js';
import { compressExtension, compressTypeOfName } from '../io/compress.js';
import { decodeStored } from '../io/decode.js';
import { isBackupLabel } from './label.js';
import { repoLayout } from './layout.js';
import { decodeManifest, encodeManifest, type Manifest } from './manifest.js';
import type { Repository } from './repository.js';

/** One history manifest: its backup's label and its name under the year directory. */
export interface HistoryEntry {
  readonly label: string;
  readonly year: string;
  /** `<label>.manifest<ext>`. */
  readonly name: string;
}

const YEAR = /^2\d{3}$/;
const ENTRY = /^(.+)\.manifest(\.gz|\.lz4|\.zst)?$/;

export class BackupHistory {
  readonly #repo: Repository;

  constructor(repo: Repository) {
    this.#repo = repo;
  }

  get #root(): string {
    return repoLayout.historyRoot(this.#repo.stanza);
  }

  /**
   * Writes the history copy of `manifest` (replacing one of the same label: a resumed backup keeps its label),
   * visible only once whole.
   */
  async write(manifest: Manifest): Promise<void> {
    const { label, compressType, compressLevel } = manifest.backup;
    const path = repoLayout.historyManifest(this.#repo.stanza, label, compressExtension(compressType));
    await this.#repo.putBuffer(encodeManifest(manifest), path, { type: compressType, level: compressLevel });
  }

  /** Every history manifest, oldest label first. */
  async list(): Promise<HistoryEntry[]> {
    const entries: HistoryEntry[] = [];
    for (const year of await this.#years()) entries.push(...(await this.#entries(year)));
    return entries.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  }

  /**
   * The history manifests of the newest year only: the latest label is among them, since a manifest's year is its
   * label's (so a new backup's label check reads one year, as pgBackRest does, not the whole history).
   */
  async newestYear(): Promise<HistoryEntry[]> {
    const newest = (await this.#years()).sort().at(-1);
    return newest === undefined ? [] : this.#entries(newest);
  }

  async #years(): Promise<string[]> {
    const years: string[] = [];
    for await (const year of this.#repo.driver.list(this.#root))
      if (year.type === 'path' && YEAR.test(year.name)) years.push(year.name);
    return years;
  }

  async #entries(year: string): Promise<HistoryEntry[]> {
    const entries: HistoryEntry[] = [];
    for await (const file of this.#repo.driver.list(`${this.#root}/${year}`)) {
      const label = ENTRY.exec(file.name)?.[1];
      if (file.type === 'file' && label !== undefined && isBackupLabel(label))
        entries.push({ label, year, name: file.name });
    }
    return entries;
  }

  /** The repository path of a history manifest. */
  pathOf(entry: HistoryEntry): string {
    return `${this.#root}/${entry.year}/${entry.name}`;
  }

  /** The history manifest of `label`, decoded and validated; fileMissing (55) when there is none. */
  async manifest(label: string): Promise<Manifest> {
    const entry = (await this.list()).find((each) => each.label === label);
    if (entry === undefined) {
      throw new PgStashError(
        'fileMissing',
        `${this.#repo.name}: no backup history manifest for '${label}' in '${this.#repo.location}/${this.#root}'`,
      );
    }
    return this.read(entry);
  }

  /** One listed history manifest, decoded and validated (verify reads each); fileMissing (55) when it went. */
  async read(entry: HistoryEntry): Promise<Manifest> {
    const path = this.pathOf(entry);
    const stored = await this.#repo.driver.read(path);
    if (stored === undefined)
      throw new PgStashError(
        'fileMissing',
        `backup history manifest '${this.#repo.location}/${path}' is missing`,
      );
    const pieces: Buffer[] = [];
    const key = await this.#repo.requireKey();
    for await (const piece of decodeStored([stored], {
      compressType: compressTypeOfName(path),
      key,
      lz4OnPool: false,
    }))
      pieces.push(piece);
    return decodeManifest(Buffer.concat(pieces), `${this.#repo.location}/${path}`);
  }

  /** Removes one history manifest, then its year directory when that is left empty. */
  async remove(entry: HistoryEntry): Promise<void> {
    const year = `${this.#root}/${entry.year}`;
    await this.#repo.driver.remove(`${year}/${entry.name}`);
    for await (const _ of this.#repo.driver.list(year)) return;
    await this.#repo.driver.removeTree(year);
  }
}
