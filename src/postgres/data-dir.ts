// Lists what an online backup copies from a PostgreSQL data directory and its tablespaces, in a stable order.
//
// The exclusions follow PostgreSQL's own base backup (src/backend/backup/basebackup.c: excludeDirContents,
// excludeFiles, unlogged and temporary relations) and the documentation's list of files to omit from a
// low-level base backup, plus what pgBackRest leaves out as well (recovery.signal, standby.signal,
// current_logfiles): all of it is either recreated by the server at start, meaningless in a copy, or written
// fresh by the backup (backup_label, tablespace_map).
//
// Links. A symlink `pg_tblspc/<oid>` is a tablespace: it yields a `link` entry named `pg_data/pg_tblspc/<oid>`,
// then the tablespace directory and its version directory's files under `pg_tblspc/<oid>/...` (the form
// PostgreSQL's backup_manifest uses). Any other symlink (pg_wal on another disk, a linked postgresql.conf) yields
// a `link` entry followed by an entry of the same name for what it points to (a `path` and its contents, or a
// `file`), so that restore can recreate the link and fill its destination. Links are never followed into the
// data directory itself (that would copy the same files twice) nor in a cycle; a link whose destination is
// missing is an error, because restore could not recreate what it does not know.
import { lstat, readdir, readlink, realpath, readFile, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { errnoOf, fail, messageOf } from '../common/errors.js';
import { log } from '../common/log.js';
import { findVersion } from './version.js';

export interface DataDirEntry {
  /** Path relative to the backup root: 'pg_data/base/1/1259', 'pg_data/pg_wal' (dir), 'pg_tblspc/16385/PG_15_202209061/16384/16386'. */
  readonly name: string;
  readonly type: 'file' | 'path' | 'link';
  /** Where the entry is on disk; for a followed link's target, the resolved destination. */
  readonly absolutePath: string;
  /** Bytes, for files (0 for paths and links). */
  readonly size: number;
  /** Modification time in whole seconds since the epoch. */
  readonly mtime: number;
  /** Permission bits only (e.g. 0o600). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** For links: the destination exactly as the link holds it (absolute or relative). */
  readonly linkDestination?: string;
}

export interface Tablespace {
  readonly oid: number;
  readonly name?: string;
  readonly location: string;
}

export interface ListDataDirOptions {
  /** Major version ('15'): selects the tablespace version directory PG_<major>_<catversion> and the WAL dir. */
  readonly pgVersion: string;
  /**
   * The tablespaces PostgreSQL reported (pg_tablespace). The walk itself reads the links in pg_tblspc, as
   * PostgreSQL does; this list adds locations to keep out of the data directory walk: a tablespace created
   * inside the data directory is copied once, through its link, not a second time as an ordinary directory.
   */
  readonly tablespaces?: readonly Tablespace[];
}

/** Directories whose contents the server removes or recreates at start; the directory itself is kept (mode). */
const EXCLUDE_CONTENTS = new Set([
  'pg_dynshmem',
  'pg_notify',
  'pg_replslot',
  'pg_serial',
  'pg_snapshots',
  'pg_stat_tmp',
  'pg_subtrans',
]);

/** Files at the top of the data directory that a backup never copies. */
const EXCLUDE_ROOT_FILES = new Set([
  'postmaster.pid',
  'postmaster.opts',
  // Written fresh from pg_backup_stop's answer; a stale one would make recovery start at the wrong place.
  'backup_label',
  'tablespace_map',
  // A manifest left by the backup this cluster was restored from describes that backup, not this one.
  'backup_manifest',
  'backup_manifest.tmp',
  // Restore writes the signal files it wants; copying them would put a restored primary into recovery.
  'recovery.signal',
  'standby.signal',
  'current_logfiles',
  'current_logfiles.tmp',
  'postgresql.auto.conf.tmp',
]);

/**
 * The lock a restore holds in the data directory it writes (command/restore/restore-lock.ts), with the names used
 * while it is taken (prefix match). The restore removes it; only a restore killed at its very end leaves it.
 */
export const RESTORE_LOCK_FILE = '.pgstash-restore.lock';

/**
 * The marker a restore leaves in the data directory from before it writes until pg_control is in
 * (command/restore/unfinished.ts), as pgBackRest leaves its backup.manifest there: restore --delta takes a directory
 * holding it for a data directory, so an interrupted restore is finished with --delta.
 */
export const RESTORE_UNFINISHED_FILE = '.pgstash-restore.unfinished';

/** Anywhere in the tree: temporary files and directories (prefix match), and the relation cache init file. */
const TEMP_PREFIX = 'pgsql_tmp';
const RELCACHE_INIT_PREFIX = 'pg_internal.init';

const DIGITS = /^[0-9]+$/;
/** A relation file: relfilenode, optional fork, optional segment number ('16384', '16384_fsm', '16384.2'). */
const RELATION_FILE = /^([1-9][0-9]*)(?:_(fsm|vm|init))?(?:\.([1-9][0-9]*))?$/;
/** A temporary relation: t<backend id>_<relfilenode>, optional fork and segment. */
const TEMP_RELATION_FILE = /^t[0-9]+_[0-9]+(?:_(?:fsm|vm|init))?(?:\.[0-9]+)?$/;
/** Where relation files live: global/, a database directory under base/, or one in a tablespace version dir. */
const RELATION_PATH =
  /^(?:global|base\/[0-9]+|pg_tblspc\/[0-9]+\/PG_[^/]+\/[0-9]+)\/([1-9][0-9]*)(?:_(?:fsm|vm|init))?(?:\.([1-9][0-9]*))?$/;

/** How many lstat calls run ahead of the one being yielded (keeps a 100k-file directory fast, memory flat). */
const STAT_AHEAD = 16;

/**
 * Whether `name` (an entry name, with or without the leading 'pg_data/') is a relation data file whose pages
 * carry checksums, and which 1 GiB segment it is: 'pg_data/base/5/16384.2' -> { segmentNo: 2 }.
 * Forks (_fsm, _vm, _init) are relation files too; pg_filenode.map, PG_VERSION, pg_internal.init are not.
 */
export function isRelationFile(name: string): { segmentNo: number } | undefined {
  const relative = name.startsWith('pg_data/') ? name.slice('pg_data/'.length) : name;
  const match = RELATION_PATH.exec(relative);
  if (match === null) return undefined;
  return { segmentNo: match[2] === undefined ? 0 : Number(match[2]) };
}

/**
 * Every entry an online backup of `pgPath` copies: depth first, directory before its contents, names sorted
 * (by UTF-16 code unit) within each directory. Only one directory listing per level is held at a time. Files or
 * directories that vanish during the walk (a table dropped mid-backup) are skipped: WAL replay recreates the
 * state. The first entry is the data directory itself ('pg_data').
 */
export function listDataDir(pgPath: string, options: ListDataDirOptions): AsyncIterable<DataDirEntry> {
  return new DataDirWalker(pgPath, options).walk();
}

/** What a directory is, which decides the exclusion rules for its children. */
type DirRole =
  | 'dataRoot' // pg_data
  | 'base' // pg_data/base: its numeric children are databases
  | 'tblspcDir' // pg_data/pg_tblspc: its links are tablespaces
  | 'tablespaceRoot' // a tablespace location: only this cluster's version directory is ours
  | 'tablespaceVersion' // PG_<major>_<catversion>: its numeric children are databases
  | 'database' // unlogged and temporary relations are excluded here
  | 'other';

interface DirContext {
  readonly abs: string;
  readonly name: string;
  readonly role: DirRole;
  /** dev:ino of the directories from the root to this one, to refuse a link cycle. */
  readonly ancestors: ReadonlySet<string>;
}

/** Something found in a directory: where it is, the entry name it gets, and its (l)stat. */
interface Found {
  readonly abs: string;
  readonly entryName: string;
  /** The last part of the entry name, which the exclusion rules look at. */
  readonly baseName: string;
  readonly stats: Stats;
  readonly parent: DirContext;
}

/** A child name with its lstat (or undefined when it vanished meanwhile). */
interface Statted {
  readonly name: string;
  readonly stats: Stats | undefined;
}

class DataDirWalker {
  readonly #pgPath: string;
  readonly #pgVersion: string;
  readonly #walDir: string;
  readonly #catalogVersion: number | undefined;
  readonly #listedTablespaces: readonly Tablespace[];
  /** Real paths of tablespace locations, kept out of the data directory walk. */
  readonly #tablespaceLocations = new Set<string>();
  #realRoot = '';

  constructor(pgPath: string, options: ListDataDirOptions) {
    this.#pgPath = resolve(pgPath);
    this.#pgVersion = options.pgVersion;
    const info = findVersion(options.pgVersion);
    this.#walDir = info?.walDir ?? 'pg_wal';
    this.#catalogVersion = info?.catalogVersion;
    this.#listedTablespaces = options.tablespaces ?? [];
  }

  async *walk(): AsyncGenerator<DataDirEntry> {
    let rootStats: Stats;
    try {
      this.#realRoot = await realpath(this.#pgPath);
      rootStats = await stat(this.#realRoot);
    } catch (error) {
      fail(
        errnoOf(error) === 'ENOENT' ? 'pathMissing' : 'fileOpen',
        `unable to open data directory '${this.#pgPath}': ${messageOf(error)}`,
      );
    }
    if (!rootStats.isDirectory()) fail('pathMissing', `data directory '${this.#pgPath}' is not a directory`);
    await this.#checkVersion();
    await this.#collectTablespaceLocations();

    yield entryOf('path', { abs: this.#realRoot, entryName: 'pg_data', stats: rootStats });
    const ancestors = new Set([inodeKey(rootStats)]);
    yield* this.#children({ abs: this.#realRoot, name: 'pg_data', role: 'dataRoot', ancestors });
  }

  /** PG_VERSION must name the version the caller expects: a mismatch means the wrong pg1-path. */
  async #checkVersion(): Promise<void> {
    const file = join(this.#realRoot, 'PG_VERSION');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      fail('fileMissing', `unable to read '${file}': ${messageOf(error)}`, {
        hint: 'is pg1-path the data directory of a PostgreSQL cluster?',
      });
    }
    if (text.trim() !== this.#pgVersion) {
      fail(
        'dbMismatch',
        `data directory '${this.#pgPath}' is PostgreSQL '${text.trim()}', expected '${this.#pgVersion}'`,
      );
    }
  }

  async #collectTablespaceLocations(): Promise<void> {
    const locations = this.#listedTablespaces.map((tablespace) => tablespace.location);
    const tblspcDir = join(this.#realRoot, 'pg_tblspc');
    for (const name of (await this.#readNames(tblspcDir)) ?? []) {
      try {
        locations.push(resolve(tblspcDir, await readlink(join(tblspcDir, name))));
      } catch {
        // Not a link (an in-place tablespace) or gone: nothing to keep out of the walk.
      }
    }
    for (const location of locations) {
      try {
        this.#tablespaceLocations.add(await realpath(location));
      } catch {
        // A tablespace dropped since PostgreSQL listed it.
      }
    }
  }

  async *#children(dir: DirContext): AsyncGenerator<DataDirEntry> {
    const names = await this.#readNames(dir.abs);
    if (names === undefined) return;
    names.sort(compareNames);
    const wanted = this.#filterNames(dir, names);
    for await (const { name, stats } of statAhead(dir.abs, wanted)) {
      if (stats === undefined) continue;
      const found = {
        abs: join(dir.abs, name),
        entryName: `${dir.name}/${name}`,
        baseName: name,
        stats,
        parent: dir,
      };
      if (!stats.isSymbolicLink()) yield* this.#node(found);
      else if (dir.role === 'tblspcDir' && DIGITS.test(name)) yield* this.#tablespace(found);
      else yield* this.#link(found);
    }
  }

  /** A file or directory (reached directly or through a link): its entry, then a directory's contents. */
  async *#node(found: Found): AsyncGenerator<DataDirEntry> {
    const { abs, entryName, baseName, stats, parent } = found;
    if (stats.isFile()) {
      yield entryOf('file', found);
    } else if (stats.isDirectory()) {
      if (this.#tablespaceLocations.has(abs)) return;
      yield entryOf('path', found);
      if (parent.role === 'dataRoot' && (EXCLUDE_CONTENTS.has(baseName) || baseName === this.#walDir)) return;
      const key = inodeKey(stats);
      if (parent.ancestors.has(key)) {
        fail('linkDestination', `link cycle: directory '${abs}' (entry '${entryName}') contains itself`);
      }
      const ancestors = new Set(parent.ancestors).add(key);
      yield* this.#children({ abs, name: entryName, role: childRole(parent.role, baseName), ancestors });
    } else {
      // Sockets, FIFOs and devices cannot be copied; PostgreSQL's own base backup skips them too.
      log.warn(`skipping special file '${abs}': not a regular file, directory or link`);
    }
  }

  /** pg_tblspc/<oid>: the link, then the location and this cluster's version directory under 'pg_tblspc/<oid>'. */
  async *#tablespace(link: Found): AsyncGenerator<DataDirEntry> {
    const destination = await readLinkOrUndefined(link.abs);
    if (destination === undefined) return;
    yield entryOf('link', { ...link, linkDestination: destination });
    const location = resolve(dirname(link.abs), destination);
    const stats = await statOrUndefined(location);
    // A tablespace dropped during the backup leaves nothing to copy, and no error, as in PostgreSQL.
    if (stats === undefined) return;
    if (!stats.isDirectory()) {
      fail(
        'linkDestination',
        `tablespace link '${link.abs}' points to '${destination}', which is not a directory`,
      );
    }
    const real = await realpath(location).catch(() => location);
    const name = `pg_tblspc/${link.baseName}`;
    yield entryOf('path', { abs: real, entryName: name, stats });
    const ancestors = new Set(link.parent.ancestors).add(inodeKey(stats));
    yield* this.#children({ abs: real, name, role: 'tablespaceRoot', ancestors });
  }

  /** Any other link: the link, then what it points to under the same name, followed like the real thing. */
  async *#link(link: Found): AsyncGenerator<DataDirEntry> {
    const destination = await readLinkOrUndefined(link.abs);
    if (destination === undefined) return;
    let real: string;
    let stats: Stats;
    try {
      real = await realpath(resolve(dirname(link.abs), destination));
      stats = await stat(real);
    } catch (error) {
      // The link itself went away meanwhile: skipped like any vanished file.
      if (errnoOf(error) === 'ENOENT' && (await lstat(link.abs).catch(() => undefined)) === undefined) return;
      fail(
        'linkDestination',
        `unable to follow link '${link.entryName}' to '${destination}': ${messageOf(error)}`,
        {
          hint: 'remove the link or restore its destination',
        },
      );
    }
    if (real === this.#realRoot || real.startsWith(this.#realRoot + sep)) {
      fail(
        'linkDestination',
        `link '${link.entryName}' destination '${destination}' is inside the data directory`,
        {
          hint: 'a link into the data directory would copy the same files twice: remove it',
        },
      );
    }
    yield entryOf('link', { ...link, linkDestination: destination });
    yield* this.#node({ ...link, abs: real, stats });
  }

  /** The children of `dir` that are copied at all, judged by name alone (before any stat). */
  #filterNames(dir: DirContext, names: readonly string[]): string[] {
    if (dir.role === 'tablespaceRoot') {
      const version = this.#versionDirectory(dir, names);
      return version === undefined ? [] : [version];
    }
    let unlogged: Set<string> | undefined;
    if (dir.role === 'database') {
      unlogged = new Set();
      for (const name of names) {
        const match = RELATION_FILE.exec(name);
        if (match?.[2] === 'init' && match[3] === undefined && match[1] !== undefined) unlogged.add(match[1]);
      }
    }
    return names.filter((name) => {
      if (name.startsWith(TEMP_PREFIX) || name.startsWith(RELCACHE_INIT_PREFIX)) return false;
      if (
        dir.role === 'dataRoot' &&
        (EXCLUDE_ROOT_FILES.has(name) ||
          name.startsWith(RESTORE_LOCK_FILE) ||
          name === RESTORE_UNFINISHED_FILE)
      )
        return false;
      if (unlogged !== undefined) {
        if (TEMP_RELATION_FILE.test(name)) return false;
        const match = RELATION_FILE.exec(name);
        // An unlogged relation is reset from its init fork at the end of recovery: only that fork is copied.
        if (match?.[1] !== undefined && match[2] !== 'init' && unlogged.has(match[1])) return false;
      }
      return true;
    });
  }

  /**
   * The version directory of this cluster in a tablespace location shared with other major versions (as
   * pg_upgrade leaves it): PG_<major>_<catversion> from the version table, else the only PG_<major>_* there is.
   */
  #versionDirectory(dir: DirContext, names: readonly string[]): string | undefined {
    if (this.#catalogVersion !== undefined) {
      const exact = `PG_${this.#pgVersion}_${String(this.#catalogVersion)}`;
      if (names.includes(exact)) return exact;
    }
    const candidates = names.filter((name) => name.startsWith(`PG_${this.#pgVersion}_`));
    if (candidates.length > 1) {
      fail(
        'fileInvalid',
        `tablespace '${dir.abs}' holds several version directories for PostgreSQL ${this.#pgVersion}: '${candidates.join("', '")}'`,
        {
          hint: 'remove the directories left by an older cluster',
        },
      );
    }
    return candidates[0];
  }

  /** Names in a directory, or undefined when it vanished (a database dropped mid-backup). */
  async #readNames(abs: string): Promise<string[] | undefined> {
    let names: string[];
    try {
      names = await readdir(abs);
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      fail(
        code === 'EACCES' ? 'access' : 'fileOpen',
        `unable to list directory '${abs}': ${messageOf(error)}`,
      );
    }
    // Node decodes names as UTF-8 and replaces invalid bytes: such a file could not be opened again by name.
    if (names.some((name) => name.includes('\uFFFD'))) await checkUtf8Names(abs);
    return names;
  }
}

/** The role of a child directory named `name` of a directory with role `parent`. */
function childRole(parent: DirRole, name: string): DirRole {
  switch (parent) {
    case 'dataRoot':
      if (name === 'base') return 'base';
      if (name === 'pg_tblspc') return 'tblspcDir';
      return 'other';
    case 'base':
      return DIGITS.test(name) ? 'database' : 'other';
    case 'tblspcDir':
      // An in-place tablespace (allow_in_place_tablespaces, PostgreSQL 15+) is a directory, not a link.
      return DIGITS.test(name) ? 'tablespaceRoot' : 'other';
    case 'tablespaceRoot':
      return 'tablespaceVersion';
    case 'tablespaceVersion':
      return DIGITS.test(name) ? 'database' : 'other';
    default:
      return 'other';
  }
}

async function checkUtf8Names(abs: string): Promise<void> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (const raw of await readdir(abs, { encoding: 'buffer' })) {
    try {
      decoder.decode(raw);
    } catch {
      fail(
        'featureNotSupported',
        `unable to back up '${join(abs, raw.toString('utf8'))}': its name is not valid UTF-8`,
        {
          hint: 'rename or remove the file (PostgreSQL itself never creates such names)',
        },
      );
    }
  }
}

/** lstat of each name, STAT_AHEAD at once, yielded in order; a name that vanished comes back without stats. */
async function* statAhead(dir: string, names: readonly string[]): AsyncGenerator<Statted> {
  const pending: Promise<Statted>[] = [];
  let next = 0;
  const start = (): void => {
    const name = names[next++];
    if (name === undefined) return;
    pending.push(
      lstat(join(dir, name)).then(
        (stats) => ({ name, stats }),
        (error: unknown) => {
          if (errnoOf(error) === 'ENOENT') return { name, stats: undefined };
          fail(
            errnoOf(error) === 'EACCES' ? 'access' : 'fileOpen',
            `unable to stat '${join(dir, name)}': ${messageOf(error)}`,
          );
        },
      ),
    );
  };
  while (next < names.length && pending.length < STAT_AHEAD) start();
  try {
    while (pending.length > 0) {
      const result = await (pending.shift() as Promise<Statted>);
      start();
      yield result;
    }
  } finally {
    // Abandoned early (an error, or the consumer stopped): let the remaining stats settle unobserved.
    for (const promise of pending) promise.catch(() => undefined);
  }
}

async function readLinkOrUndefined(abs: string): Promise<string | undefined> {
  try {
    return await readlink(abs);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    fail('fileOpen', `unable to read link '${abs}': ${messageOf(error)}`);
  }
}

async function statOrUndefined(abs: string): Promise<Stats | undefined> {
  try {
    return await stat(abs);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    fail('fileOpen', `unable to stat '${abs}': ${messageOf(error)}`);
  }
}

/** What an entry is made from: where it is, its name, its (l)stat, and for a link where it points. */
interface EntrySource extends Pick<Found, 'abs' | 'entryName' | 'stats'> {
  readonly linkDestination?: string;
}

function entryOf(type: DataDirEntry['type'], found: EntrySource): DataDirEntry {
  const { stats, linkDestination } = found;
  const entry = {
    name: found.entryName,
    type,
    absolutePath: found.abs,
    size: type === 'file' ? stats.size : 0,
    mtime: Math.floor(stats.mtimeMs / 1000),
    mode: stats.mode & 0o7777,
    uid: stats.uid,
    gid: stats.gid,
  };
  return linkDestination === undefined ? entry : { ...entry, linkDestination };
}

function inodeKey(stats: Stats): string {
  return `${String(stats.dev)}:${String(stats.ino)}`;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
