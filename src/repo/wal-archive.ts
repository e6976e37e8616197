// A stanza's WAL archive in one repository: archive ids, finding, storing, listing and removing WAL files.
import { PgStashError } from '../common/errors.js';
import { compressExtension } from '../io/compress.js';
import { parseWalFileName } from '../postgres/wal-name.js';
import { claimWalName } from './archive-claim.js';
import type { ArchiveInfo } from './archive-info.js';
import { sameCluster, type DbHistory } from './db-history.js';
import {
  archiveId,
  archivedWalName,
  parseArchivedWalName,
  parseWalClaimName,
  repoLayout,
  walClaimName,
} from './layout.js';
import type { CompressSettings, Repository, StoredFile } from './repository.js';

/** One archived copy of a WAL file. `path` is where it is in the repository: pass it back, never build one. */
export interface ArchivedWal {
  readonly path: string;
  readonly sha256: string;
}

/** One archived WAL file as a listing shows it. */
export interface ArchivedFile extends ArchivedWal {
  /** The repository file's name: `<walFileName>-<sha256><extension>`. */
  readonly name: string;
  /** PostgreSQL's name: a segment, a `.partial` segment, a `.backup` or a `.history` file. */
  readonly walFileName: string;
  readonly extension: string;
  /** When the repository file was written (epoch ms). */
  readonly mtimeMs: number;
}

/** The content of a WAL file to store: read as whole chunks (maybe twice), and its SHA-256 alone. */
export interface WalInput {
  readonly chunks: () => { chunks: AsyncIterable<Buffer>; release: (chunk: Buffer) => void };
  readonly sha256: () => Promise<string>;
}

const SEGMENT_DIRECTORY = /^[0-9A-F]{16}$/;

const byName = (a: { name: string }, b: { name: string }): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

export class WalArchive {
  readonly #repo: Repository;

  constructor(repo: Repository) {
    this.#repo = repo;
  }

  /**
   * The archive ids of the current cluster, newest first (after a stanza upgrade the same cluster's older WAL
   * stays under its old id). archive.info must exist: fileMissing (55) with a hint otherwise.
   */
  async clusterIds(): Promise<string[]> {
    return idsOfCurrentCluster(await this.#repo.requireArchiveInfo());
  }

  /** clusterIds, or none when the stanza has no archive.info. */
  async clusterIdsIfAny(): Promise<string[]> {
    const info = await this.#repo.archiveInfo();
    return info === undefined ? [] : idsOfCurrentCluster(info);
  }

  /** The archive id WAL of the current cluster is stored under. */
  async currentId(): Promise<string> {
    return this.currentIdIn(await this.#repo.requireArchiveInfo());
  }

  /** currentId from an archive.info the caller read already. */
  currentIdIn(info: ArchiveInfo): string {
    return archiveId(info.current.version, info.current.id);
  }

  /**
   * The archived copy of `walFileName` under archive id `id`, with the SHA-256 its name records, if any.
   *
   * Copies with different content (two clusters, or two primaries after a failover, archiving to one stanza; or
   * two pushes racing) fail with archiveDuplicate (45) naming them: which one recovery needs cannot be told, and
   * taking either silently could replay the wrong history. Copies of the same content (stored again with another
   * compression) are one: the first by name is returned, the same on every call.
   */
  async find(id: string, walFileName: string): Promise<ArchivedWal | undefined> {
    const dir = repoLayout.walDirectory(this.#repo.stanza, id, walFileName);
    const copies: { name: string; sha256: string }[] = [];
    for await (const entry of this.#repo.driver.list(dir, { prefix: `${walFileName}-` })) {
      const parsed = parseArchivedWalName(entry.name);
      if (entry.type === 'file' && parsed?.walFileName === walFileName)
        copies.push({ name: entry.name, sha256: parsed.sha256 });
    }
    copies.sort(byName);
    const [first] = copies;
    if (first === undefined) return undefined;
    if (copies.some((copy) => copy.sha256 !== first.sha256)) {
      throw new PgStashError(
        'archiveDuplicate',
        `WAL file '${walFileName}' is in the ${this.#repo.name} archive with different contents: ${copies.map((copy) => copy.name).join(', ')}`,
        {
          hint: "are two clusters or two primaries archiving to this stanza? remove the copy that is not this cluster's from the repository",
        },
      );
    }
    return { path: `${dir}/${first.name}`, sha256: first.sha256 };
  }

  /** The original bytes of an archived file, verified after the last chunk; undefined when it is gone. */
  read(wal: ArchivedWal): Promise<AsyncGenerator<Buffer> | undefined> {
    return this.#repo.getChunks(wal.path, { sha256: wal.sha256 });
  }

  /**
   * Stores WAL file `walFileName` under archive id `id`, named by its content's SHA-256. Only the content the
   * name is claimed for is ever stored under it (repo/archive-claim.ts): concurrent pushes of one name with
   * different contents (two clusters on one stanza) store one, and the others fail with 45. Where the driver
   * moves atomically the file is read once (the claim comes before the move); elsewhere it is hashed first.
   */
  async put(
    id: string,
    walFileName: string,
    input: WalInput,
    compress: CompressSettings,
  ): Promise<StoredFile> {
    const dir = repoLayout.walDirectory(this.#repo.stanza, id, walFileName);
    const extension = compressExtension(compress.type);
    const claim = (sha256: string): Promise<void> =>
      claimWalName(this.#repo, { dir, walFileName, sha256 }, async (claimed) => {
        const stored = await this.find(id, walFileName).catch(() => undefined);
        return stored?.sha256 === claimed;
      });
    if (this.#repo.driver.capabilities.atomicMove) {
      const { chunks, release } = input.chunks();
      return this.#repo.putNamedByContent(
        chunks,
        {
          dir,
          label: walFileName,
          nameOf: (stored) => archivedWalName(walFileName, stored.sha256, extension),
          claim: (stored) => claim(stored.sha256),
        },
        compress,
        { release },
      );
    }
    const sha256 = await input.sha256();
    await claim(sha256);
    const { chunks, release } = input.chunks();
    return this.#repo.putChunks(
      chunks,
      `${dir}/${archivedWalName(walFileName, sha256, extension)}`,
      compress,
      {
        release,
      },
    );
  }

  /** The segment directories (first 16 hex digits of a segment name) of archive id `id`, sorted. */
  async segmentDirectories(id: string, options: { prefix?: string } = {}): Promise<string[]> {
    const names: string[] = [];
    const root = repoLayout.archiveIdPath(this.#repo.stanza, id);
    for await (const entry of this.#repo.driver.list(root, options))
      if (entry.type === 'path' && SEGMENT_DIRECTORY.test(entry.name)) names.push(entry.name);
    return names.sort();
  }

  /** The archived files in segment directory `dir` of archive id `id` (segments, partial, backup files). */
  filesIn(id: string, dir: string): Promise<ArchivedFile[]> {
    return this.#listFiles(`${repoLayout.archiveIdPath(this.#repo.stanza, id)}/${dir}`);
  }

  /**
   * The WAL file names anything is stored under in segment directory `dir`: archived copies and claims, sorted. A
   * claim alone is what a push or a removal killed between the two leaves: expire must see it to remove it.
   */
  async namesIn(id: string, dir: string): Promise<string[]> {
    const names = new Set<string>();
    for await (const entry of this.#repo.driver.list(
      `${repoLayout.archiveIdPath(this.#repo.stanza, id)}/${dir}`,
    )) {
      if (entry.type !== 'file') continue;
      const name = parseArchivedWalName(entry.name)?.walFileName ?? parseWalClaimName(entry.name);
      if (name !== undefined) names.add(name);
    }
    return [...names].sort();
  }

  /** The timeline history files of archive id `id` (at its root), sorted by name. */
  async historyFiles(id: string): Promise<ArchivedFile[]> {
    const files = await this.#listFiles(repoLayout.archiveIdPath(this.#repo.stanza, id));
    return files.filter((file) => parseWalFileName(file.walFileName)?.kind === 'history');
  }

  async #listFiles(dir: string): Promise<ArchivedFile[]> {
    const files: ArchivedFile[] = [];
    for await (const entry of this.#repo.driver.list(dir)) {
      const parsed = entry.type === 'file' ? parseArchivedWalName(entry.name) : undefined;
      if (parsed !== undefined)
        files.push({ name: entry.name, path: `${dir}/${entry.name}`, ...parsed, mtimeMs: entry.mtimeMs });
    }
    return files.sort(byName);
  }

  /** The oldest and newest archived segment of archive id `id` (partial, backup and history files do not count). */
  async range(id: string): Promise<{ min?: string; max?: string }> {
    const dirs = await this.segmentDirectories(id);
    // Each directory listed once: the oldest and the newest segment are often in the same one.
    const listed = new Map<string, Promise<string[]>>();
    const segmentsIn = (dir: string): Promise<string[]> => {
      let segments = listed.get(dir);
      if (segments === undefined) {
        segments = this.filesIn(id, dir).then((files) =>
          files
            .map((file) => file.walFileName)
            .filter((wal) => parseWalFileName(wal)?.kind === 'segment')
            .sort(),
        );
        listed.set(dir, segments);
      }
      return segments;
    };
    let min: string | undefined;
    for (const dir of dirs) {
      min = (await segmentsIn(dir))[0];
      if (min !== undefined) break;
    }
    let max: string | undefined;
    for (const dir of [...dirs].reverse()) {
      max = (await segmentsIn(dir)).at(-1);
      if (max !== undefined) break;
    }
    return { ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) };
  }

  /**
   * Removes from archive id `id` every segment from `range.from` to `range.to` (names of one timeline, inclusive), with the
   * partial and backup history files of those segments and their claims; history files stay (a timeline
   * history is removed only by name, never by a range). The data goes before the claims: a removal killed
   * between them leaves claims without data, which harm nothing (an interrupted push leaves the same) and which
   * the next removal of the range takes, with the claims in the range that have no data at all.
   * A segment directory left empty is removed. Resolves to the number of WAL files removed.
   */
  async remove(id: string, range: { from: string; to: string }): Promise<number> {
    // Names compare as (timeline, position): a range across timelines would take every later position of the
    // first timeline and every earlier one of the last, which no caller can mean.
    if (range.from.slice(0, 8) !== range.to.slice(0, 8) || range.from > range.to) {
      throw new PgStashError(
        'assert',
        `WAL range ${range.from} to ${range.to} is not one timeline, in order`,
      );
    }
    const inRange = (walFileName: string): boolean => {
      const segment = walFileName.slice(0, 24);
      return (
        parseWalFileName(walFileName)?.kind !== 'history' && segment >= range.from && segment <= range.to
      );
    };
    let removed = 0;
    const root = repoLayout.archiveIdPath(this.#repo.stanza, id);
    for (const dir of await this.segmentDirectories(id)) {
      if (dir < range.from.slice(0, 16) || dir > range.to.slice(0, 16)) continue;
      const files = await this.filesIn(id, dir);
      const doomed = files.filter((file) => inRange(file.walFileName));
      for (const file of doomed) await this.#repo.driver.remove(file.path);
      for (const walFileName of (await this.namesIn(id, dir)).filter(inRange))
        await this.#repo.driver.remove(`${root}/${dir}/${walClaimName(walFileName)}`);
      removed += doomed.length;
      if (doomed.length === files.length && (await this.#isEmpty(`${root}/${dir}`)))
        await this.#repo.driver.removeTree(`${root}/${dir}`);
    }
    return removed;
  }

  async #isEmpty(dir: string): Promise<boolean> {
    for await (const entry of this.#repo.driver.list(dir)) {
      void entry;
      return false;
    }
    return true;
  }
}

/**
 * The archive ids of the current cluster of a db history, newest first. archive.info and backup.info keep the same
 * history (stanza-create and stanza-upgrade write both), so a command that read backup.info already need not read
 * archive.info for them (restore's archive checks).
 */
export function idsOfCurrentCluster(info: DbHistory): string[] {
  return info.history
    .filter((db) => sameCluster(db, info.current))
    .reverse()
    .map((db) => archiveId(db.version, db.id));
}
