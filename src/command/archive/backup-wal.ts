// Whether the WAL a backup needs to reach consistency (its start to stop segment) is in the archive.
import { PgStashError } from '../../common/errors.js';
import { parseControlFile } from '../../postgres/control.js';
import { parseWalFileName, segmentNumberOfName, walSegmentNameFromNumber } from '../../postgres/wal-name.js';
import type { BackupRecord } from '../../repo/backup-info.js';
import type { Manifest } from '../../repo/manifest.js';
import type { Repository } from '../../repo/repository.js';

/** The cluster's WAL segment size, read from the pg_control file the backup holds. */
export async function backupWalSegmentSize(repo: Repository, manifest: Manifest): Promise<number> {
  const file = manifest.files.find((entry) => entry.name === 'pg_data/global/pg_control');
  const chunks = file === undefined ? undefined : await repo.backups.readFile(file);
  if (chunks === undefined) {
    throw new PgStashError(
      'fileMissing',
      `backup set ${manifest.backup.label} has no global/pg_control in ${repo.name}: its WAL segment size is unknown`,
      { hint: 'the backup is damaged: restore another backup set with --set' },
    );
  }
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return parseControlFile(Buffer.concat(parts), `${manifest.backup.label}/pg_data/global/pg_control`)
    .walSegmentSize;
}

/**
 * The segments from `walStart` to `walStop` (one timeline). Within one xlogid directory (the first 16 hex digits,
 * 4 GiB of WAL) the names count up without knowing the segment size; across directories `segmentSize` tells
 * where a directory ends.
 */
async function segmentsFromTo(
  walStart: string,
  walStop: string,
  segmentSize: () => Promise<number>,
): Promise<string[]> {
  const timeline = Number.parseInt(walStart.slice(0, 8), 16);
  if (walStart.slice(0, 16) === walStop.slice(0, 16)) {
    const first = Number.parseInt(walStart.slice(16), 16);
    const last = Number.parseInt(walStop.slice(16), 16);
    const names: string[] = [];
    for (let seg = first; seg <= last; seg++)
      names.push(`${walStart.slice(0, 16)}${seg.toString(16).toUpperCase().padStart(8, '0')}`);
    return names;
  }
  const size = await segmentSize();
  const names: string[] = [];
  const last = segmentNumberOfName(walStop, size);
  for (let number = segmentNumberOfName(walStart, size); number <= last; number++)
    names.push(walSegmentNameFromNumber(timeline, number, size));
  return names;
}

/**
 * The segments backup `backup` needs to reach consistency that are in none of archive ids `ids`, in order (empty
 * when all are there, or when the backup holds its own WAL: archive-copy). One listing per xlogid directory per
 * archive id, never a request per segment (`listings` keeps them for the next backup). `segmentSize` (by default
 * from the backup's pg_control) is asked only when the range crosses a directory.
 */
export async function missingBackupWal(
  repo: Repository,
  ids: readonly string[],
  backup: Pick<BackupRecord, 'label' | 'walStart' | 'walStop' | 'archiveCopy'>,
  options: { segmentSize?: () => Promise<number>; listings?: Map<string, Set<string>> } = {},
): Promise<string[]> {
  const listings = options.listings ?? new Map<string, Set<string>>();
  if (backup.archiveCopy) return [];
  if (
    parseWalFileName(backup.walStart)?.kind !== 'segment' ||
    parseWalFileName(backup.walStop)?.kind !== 'segment'
  )
    return [];
  const fromManifest = async (): Promise<number> =>
    backupWalSegmentSize(repo, await repo.backups.manifest(backup.label));
  const needed = await segmentsFromTo(backup.walStart, backup.walStop, options.segmentSize ?? fromManifest);
  const dirs = [...new Set(needed.map((name) => name.slice(0, 16)))];
  const present: Set<string>[] = [];
  for (const id of ids) {
    for (const dir of dirs) {
      const listing = `${id}/${dir}`;
      let names = listings.get(listing);
      if (names === undefined) {
        names = new Set((await repo.wal.filesIn(id, dir)).map((file) => file.walFileName));
        listings.set(listing, names);
      }
      present.push(names);
    }
  }
  return needed.filter((name) => !present.some((names) => names.has(name)));
}

/** The missing segments in a message: all of them when few, else the first, a count, and the last. */
export function describeSegments(names: readonly string[]): string {
  if (names.length <= 4) return names.join(', ');
  return `${names[0] ?? ''}, ${names[1] ?? ''} ... ${names.at(-1) ?? ''} (${names.length} segments)`;
}
