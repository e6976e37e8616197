// Validates a backup manifest field by field (versions 1 and 2) into the current model; never casts parsed JSON.
import { PgStashError } from '../common/errors.js';
import { JsonObject, jsonFieldError, type JsonSource } from '../common/json-fields.js';
import { COMPRESS_TYPES } from '../io/compress.js';
import type { BackupType } from './backup-info.js';
import { BLOCK_SIZE_MIN } from './block-map.js';
import { LABEL_PATTERN } from './label.js';
import { holdersOf } from './manifest.js';
import type {
  CipherType,
  FileStorage,
  Manifest,
  ManifestBackup,
  ManifestBlocks,
  ManifestDb,
  ManifestFile,
  ManifestLink,
  ManifestOwner,
  ManifestPath,
  ManifestStored,
  ManifestTarget,
} from './manifest.js';

/** The version writers write. Version 1 (no `version` field) had no per-file storage record. */
export const MANIFEST_VERSION = 2;

const BACKUP_TYPES: readonly BackupType[] = ['full', 'diff', 'incr'];
const CIPHER_TYPES: readonly CipherType[] = ['none', 'aes-256-gcm'];
/**
 * The fields of a version 2 storage record. Any other field there (a bundle or a block map of a later format) is
 * refused rather than ignored: reading the data without it would restore the wrong bytes.
 */
const STORED_FIELDS: ReadonlySet<string> = new Set([
  'holder',
  'compressType',
  'compressLevel',
  'cipher',
  'size',
  'block',
  'empty',
  'bundle',
]);

const SHA256 = /^[0-9a-f]{64}$/;
const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/;
const WAL_FILE = /^[0-9A-F]{24}$/;
const XID = /^[0-9]{1,20}$/;
/** A relative name of plain segments: no '', '.' or '..' segment can lead a restore outside its target. */
const ENTRY_NAME = /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[^/]+(?:\/[^/]+)*$/;

/** The manifest content read from the repository at `where`, as the current model. */
export function parseManifest(raw: unknown, where: string): Manifest {
  const source: JsonSource = { kind: 'backup manifest', where };
  const root = JsonObject.of(raw, source);
  const version = root.raw('version');
  if (version === undefined) return parseVersion1(root);
  if (version === MANIFEST_VERSION) return parseVersion2(root);
  throw new PgStashError(
    'format',
    `backup manifest '${where}' has version ${JSON.stringify(version)}: this pgstash reads versions 1 to ${MANIFEST_VERSION}`,
    { hint: 'the backup was written by a newer pgstash: restore it with that version' },
  );
}

/** What a resumed backup needs from a partial manifest (BackupStore.partial): how it stored, and what it recorded. */
export interface ResumableManifest {
  readonly backup: Pick<
    ManifestBackup,
    | 'label'
    | 'type'
    | 'prior'
    | 'timestampStart'
    | 'compressType'
    | 'compressLevel'
    | 'encrypted'
    | 'checksumPage'
  >;
  readonly db: ManifestDb;
  /** Files recorded as copied and durable, each stored in this backup's own directory. */
  readonly files: readonly ManifestFile[];
}

/** A partial manifest (`backup.manifest.partial`) read from `where`, validated like a manifest's own fields. */
export function parsePartialManifest(raw: unknown, where: string): ResumableManifest {
  const root = JsonObject.of(raw, { kind: 'partial backup manifest', where });
  const backup = root.obj('backup');
  const prior = backup.optStr('prior', LABEL_PATTERN);
  const label = backup.str('label', LABEL_PATTERN);
  const files = root.objects('files').map((file) => parseFile(file, parseStored(file.obj('stored'))));
  checkHolders(root, { label, references: [] }, files, false);
  return {
    backup: {
      label,
      type: backup.oneOf('type', BACKUP_TYPES),
      ...(prior === undefined ? {} : { prior }),
      timestampStart: backup.int('timestampStart'),
      compressType: backup.oneOf('compressType', COMPRESS_TYPES),
      compressLevel: backup.int('compressLevel', Number.MIN_SAFE_INTEGER),
      encrypted: backup.bool('encrypted'),
      checksumPage: backup.bool('checksumPage'),
    },
    db: parseDb(root.obj('db')),
    files,
  };
}

function parseVersion2(root: JsonObject): Manifest {
  const backupFields = root.obj('backup');
  const backup = parseBackup(backupFields, parseReferences(backupFields));
  const files = root.objects('files').map((file) => parseFile(file, parseStored(file.obj('stored'))));
  checkHolders(root, backup, files);
  return { backup, db: parseDb(root.obj('db')), ...parseTree(root), files };
}

/**
 * A version 1 manifest: each file's data is in its `reference` backup or this one, stored with this backup's
 * compression and cipher (version 1 recorded nothing per file).
 */
function parseVersion1(root: JsonObject): Manifest {
  const backupFields = root.obj('backup');
  const label = backupFields.str('label', LABEL_PATTERN);
  const compressType = backupFields.oneOf('compressType', COMPRESS_TYPES);
  const compressLevel = backupFields.int('compressLevel', Number.MIN_SAFE_INTEGER);
  const cipher: CipherType = backupFields.bool('encrypted') ? 'aes-256-gcm' : 'none';
  const files = root.objects('files').map((file) =>
    parseFile(file, {
      holder: file.optStr('reference', LABEL_PATTERN) ?? label,
      compressType,
      compressLevel,
      cipher,
      size: file.int('repoSize'),
    }),
  );
  const references = [
    ...new Set(files.map((file) => file.stored.holder).filter((holder) => holder !== label)),
  ];
  const backup = parseBackup(backupFields, references.sort());
  return { backup, db: parseDb(root.obj('db')), ...parseTree(root), files };
}

function parseReferences(backup: JsonObject): string[] {
  return backup.array('references').map(({ value, path }) => {
    if (typeof value !== 'string' || !LABEL_PATTERN.test(value))
      throw jsonFieldError(backup.source, path, `must be a backup label (found ${JSON.stringify(value)})`);
    return value;
  });
}

function parseBackup(backup: JsonObject, references: readonly string[]): ManifestBackup {
  const prior = backup.optStr('prior', LABEL_PATTERN);
  const timezone = backup.optStr('timezone');
  const timezoneAbbreviations = backup.optStr('timezoneAbbreviations');
  const xidStart = backup.optStr('xidStart', XID);
  const xidStop = backup.optStr('xidStop', XID);
  const annotation = parseAnnotation(backup);
  const pinned = backup.raw('pinned') === undefined ? undefined : backup.bool('pinned');
  return {
    label: backup.str('label', LABEL_PATTERN),
    type: backup.oneOf('type', BACKUP_TYPES),
    ...(prior === undefined ? {} : { prior }),
    timestampStart: backup.int('timestampStart'),
    timestampStop: backup.int('timestampStop'),
    lsnStart: backup.str('lsnStart', LSN),
    lsnStop: backup.str('lsnStop', LSN),
    walStart: backup.str('walStart', WAL_FILE),
    walStop: backup.str('walStop', WAL_FILE),
    compressType: backup.oneOf('compressType', COMPRESS_TYPES),
    compressLevel: backup.int('compressLevel', Number.MIN_SAFE_INTEGER),
    encrypted: backup.bool('encrypted'),
    archiveCopy: backup.bool('archiveCopy'),
    ...(timezone === undefined ? {} : { timezone }),
    ...(timezoneAbbreviations === undefined ? {} : { timezoneAbbreviations }),
    ...(xidStart === undefined ? {} : { xidStart }),
    ...(xidStop === undefined ? {} : { xidStop }),
    timeline: backup.int('timeline', 1),
    checksumPage: backup.bool('checksumPage'),
    references,
    ...(annotation === undefined ? {} : { annotation }),
    ...(pinned === undefined ? {} : { pinned }),
  };
}

/** The optional `annotation` of a manifest's backup section: an object of string values. */
function parseAnnotation(backup: JsonObject): Record<string, string> | undefined {
  if (backup.raw('annotation') === undefined) return undefined;
  const fields = backup.obj('annotation');
  return Object.fromEntries(fields.keys().map((key) => [key, fields.str(key)]));
}

function parseDb(db: JsonObject): ManifestDb {
  return {
    id: db.int('id', 1),
    version: db.str('version'),
    systemId: BigInt(db.str('systemId', /^[0-9]{1,20}$/)),
    catalogVersion: db.int('catalogVersion'),
    controlVersion: db.int('controlVersion'),
  };
}

function parseTree(root: JsonObject): Pick<Manifest, 'targets' | 'paths' | 'links'> {
  const targets = root.objects('targets').map((target): ManifestTarget => {
    const tablespaceOid = target.optInt('tablespaceOid', 1);
    const tablespaceName = target.optStr('tablespaceName');
    return {
      name: target.str('name', ENTRY_NAME),
      type: target.oneOf('type', ['path', 'link'] as const),
      path: target.str('path'),
      ...(tablespaceOid === undefined ? {} : { tablespaceOid }),
      ...(tablespaceName === undefined ? {} : { tablespaceName }),
    };
  });
  const paths = root
    .objects('paths')
    .map((path): ManifestPath => ({ name: path.str('name', ENTRY_NAME), ...parseOwner(path) }));
  const links = root.objects('links').map((link): ManifestLink => ({
    name: link.str('name', ENTRY_NAME),
    destination: link.str('destination'),
    ...parseIds(link),
  }));
  return { targets, paths, links };
}

function parseOwner(entry: JsonObject): ManifestOwner {
  return { mode: entry.int('mode'), ...parseIds(entry) };
}

function parseIds(entry: JsonObject): Omit<ManifestOwner, 'mode'> {
  const user = entry.optStr('user');
  const group = entry.optStr('group');
  return {
    uid: entry.int('uid'),
    gid: entry.int('gid'),
    ...(user === undefined ? {} : { user }),
    ...(group === undefined ? {} : { group }),
  };
}

function parseStored(stored: JsonObject): ManifestStored {
  const unknown = stored.keys().find((name) => !STORED_FIELDS.has(name));
  if (unknown !== undefined)
    throw stored.fail(unknown, 'is not known to this pgstash (written by a newer version?)');
  const storage = parseStorage(stored);
  const block = stored.keys().includes('block') ? parseBlocks(stored.obj('block')) : undefined;
  const size = stored.int('size');
  if (stored.keys().includes('bundle')) {
    const fields = stored.obj('bundle');
    if (block !== undefined) throw stored.fail('bundle', 'is not allowed for a file stored as blocks');
    if (stored.keys().includes('empty')) throw stored.fail('bundle', 'is not allowed for an empty file');
    return { ...storage, size, bundle: { id: fields.int('id', 1), offset: fields.int('offset') } };
  }
  if (!stored.keys().includes('empty'))
    return { ...storage, size, ...(block === undefined ? {} : { block }) };
  // An empty file has nothing stored: no object to read, no blocks.
  if (stored.bool('empty') !== true) throw stored.fail('empty', 'must be true when present');
  if (size !== 0) throw stored.fail('size', `must be 0 for an empty file (found ${size})`);
  if (block !== undefined) throw stored.fail('block', 'is not allowed for an empty file');
  return { ...storage, size, empty: true };
}

function parseStorage(fields: JsonObject): FileStorage {
  return {
    holder: fields.str('holder', LABEL_PATTERN),
    compressType: fields.oneOf('compressType', COMPRESS_TYPES),
    compressLevel: fields.int('compressLevel', Number.MIN_SAFE_INTEGER),
    cipher: fields.oneOf('cipher', CIPHER_TYPES),
  };
}

function parseBlocks(block: JsonObject): ManifestBlocks {
  const map = block.obj('map');
  return {
    blockSize: block.int('blockSize', BLOCK_SIZE_MIN),
    map: { size: map.int('size'), sha256: map.str('sha256', SHA256), storedSize: map.int('storedSize') },
    parts: block.objects('parts').map((part) => ({
      ...parseStorage(part),
      size: part.int('size'),
      originalSize: part.int('originalSize'),
      sha256: part.str('sha256', SHA256),
      ...optionalFrameSize(part.optInt('frameSize', 1)),
    })),
  };
}

function optionalFrameSize(frameSize: number | undefined): { frameSize?: number } {
  return frameSize === undefined ? {} : { frameSize };
}

function parseFile(file: JsonObject, stored: ManifestStored): ManifestFile {
  const pageChecksumErrors = file.optIntArray('pageChecksumErrors');
  if (stored.empty === true && file.int('size') !== 0)
    throw file.fail('size', `must be 0 for a file stored as empty (found ${file.int('size')})`);
  return {
    name: file.str('name', ENTRY_NAME),
    size: file.int('size'),
    mtime: file.int('mtime', Number.MIN_SAFE_INTEGER),
    sha256: file.str('sha256', SHA256),
    ...parseOwner(file),
    ...(pageChecksumErrors === undefined ? {} : { pageChecksumErrors }),
    stored,
  };
}

/** Every file is held by this backup or one it lists in `references`: what expire and info rely on. */
function checkHolders(
  root: JsonObject,
  backup: Pick<ManifestBackup, 'label' | 'references'>,
  files: readonly ManifestFile[],
  parts = true,
): void {
  const holders = new Set([backup.label, ...backup.references]);
  files.forEach((file, index) => {
    if (!holders.has(file.stored.holder))
      throw jsonFieldError(
        root.source,
        `files[${index}].stored.holder`,
        `'${file.stored.holder}' is neither the backup nor one of its references`,
      );
    // A partial manifest has no references yet: its block parts are checked once the manifest is complete.
    if (!parts) return;
    holdersOf(file).forEach((holder, part) => {
      if (!holders.has(holder))
        throw jsonFieldError(
          root.source,
          `files[${index}].stored.block.parts[${part - 1}].holder`,
          `'${holder}' is neither the backup nor one of its references`,
        );
    });
  });
}
