// Repository paths: where every info file, WAL file and backup lives, relative to a repository root.

/** Archive id: the PostgreSQL major version and the stanza's database history id, e.g. '15-1'. */
export function archiveId(pgVersion: string, dbId: number): string {
  return `${pgVersion}-${dbId}`;
}

export function parseArchiveId(id: string): { pgVersion: string; dbId: number } | undefined {
  const match = /^(\d+)-(\d+)$/.exec(id);
  if (match === null) return undefined;
  return { pgVersion: match[1] as string, dbId: Number(match[2]) };
}

export const repoLayout = {
  archiveRoot: () => 'archive',
  backupRoot: () => 'backup',
  archiveStanza: (stanza: string) => `archive/${stanza}`,
  backupStanza: (stanza: string) => `backup/${stanza}`,
  archiveInfo: (stanza: string) => `archive/${stanza}/archive.info`,
  backupInfo: (stanza: string) => `backup/${stanza}/backup.info`,
  /** The outcome of the stanza's last drills (repo/drill-history.ts). */
  drillHistory: (stanza: string) => `backup/${stanza}/drill.history`,
  /** What the last verify that passed read (repo/verify-ledger.ts): which ledger file, its checksum. */
  verifyLedgerInfo: (stanza: string) => `backup/${stanza}/verify.ledger`,
  /** A ledger's lines (repository path, size, mtime, checksum of each file verified), named by a random token. */
  verifyLedgerData: (stanza: string, token: string) => `backup/${stanza}/verify.ledger.${token}`,
  /** The stanza's wrapped encryption key (plain JSON: the key inside is wrapped by the passphrase). */
  stanzaKey: (stanza: string) => `backup/${stanza}/stanza.key`,
  archiveIdPath: (stanza: string, id: string) => `archive/${stanza}/${id}`,
  /**
   * Directory of a WAL file in the archive: segments, partial segments and backup history files live under the
   * first 16 hex digits of their name (timeline + log number), timeline history files at the archive id's root.
   */
  walDirectory(stanza: string, id: string, walFileName: string): string {
    if (/^[0-9A-F]{8}\.history$/.test(walFileName)) return `archive/${stanza}/${id}`;
    return `archive/${stanza}/${id}/${walFileName.slice(0, 16)}`;
  },
  backupPath: (stanza: string, label: string) => `backup/${stanza}/${label}`,
  manifest: (stanza: string, label: string) => `backup/${stanza}/${label}/backup.manifest`,
  /** What a backup in progress wrote when it began (repo/backup-store.ts): never read as a complete manifest. */
  partialManifest: (stanza: string, label: string) => `backup/${stanza}/${label}/backup.manifest.partial`,
  /**
   * Written in a backup's directory as expire begins to remove it (repo/backup-store.ts): from then on the directory
   * is a leftover to remove, never a complete backup to list again, even with its manifest (kept for a restore).
   */
  expiredMarker: (stanza: string, label: string) => `backup/${stanza}/${label}/backup.expired`,
  /** A running backup's progress (repo/backup-progress.ts), beside its partial manifest. */
  backupProgress: (stanza: string, label: string) => `backup/${stanza}/${label}/backup.progress`,
  /** The stanza's backup history: a copy of each backup's manifest, by year (repo/backup-history.ts). */
  historyRoot: (stanza: string) => `backup/${stanza}/backup.history`,
  /** pgBackRest's place for it: the year is the label's first four digits (a diff or incr's full's year). */
  historyManifest: (stanza: string, label: string, extension: string) =>
    `backup/${stanza}/backup.history/${label.slice(0, 4)}/${label}.manifest${extension}`,
  /** Where a backup stores one file of its manifest (its name plus the compression extension). */
  backupFile: (stanza: string, label: string, name: string, extension: string) =>
    `backup/${stanza}/${label}/${name}${extension}`,
  /** Bundle `id` (from 1) of backup `label`: a tar archive of small files' stored forms (repo/bundle-tar.ts). */
  bundle: (stanza: string, label: string, id: number) => `backup/${stanza}/${label}/bundle/${id}.tar`,
};

/** Name of an archived WAL file: `<wal file>-<sha256 of the original><compression extension>`. */
export function archivedWalName(walFileName: string, sha256: string, extension: string): string {
  return `${walFileName}-${sha256}${extension}`;
}

/**
 * Name of the claim on a WAL file name, beside its archived copies (repo/archive-claim.ts): no checksum in it, so
 * every push of that name meets the same claim. `.claim` matches no archived WAL name.
 */
export function walClaimName(walFileName: string): string {
  return `${walFileName}${CLAIM_EXTENSION}`;
}

/** The WAL file name a claim file is for, or undefined when `name` is not a claim. */
export function parseWalClaimName(name: string): string | undefined {
  return name.endsWith(CLAIM_EXTENSION) ? name.slice(0, -CLAIM_EXTENSION.length) : undefined;
}

const CLAIM_EXTENSION = '.claim';

/** Splits an archived WAL name back into its parts, or undefined when it is not one. */
export function parseArchivedWalName(
  name: string,
): { walFileName: string; sha256: string; extension: string } | undefined {
  const match = /^(.+)-([0-9a-f]{64})(\.gz|\.lz4|\.zst)?$/.exec(name);
  if (match === null) return undefined;
  return { walFileName: match[1] as string, sha256: match[2] as string, extension: match[3] ?? '' };
}

/** The `.copy` twin every info file and manifest has. */
export function copyPathOf(path: string): string {
  return `${path}.copy`;
}
