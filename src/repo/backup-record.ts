// A backup's backup.info record, derived from its manifest alone: at commit, and to add back a complete backup
// that backup.info lost (BackupStore.reconcile).
import type { BackupRecord } from './backup-info.js';
import { addedBytesOf, storedBytesOf, type Manifest } from './manifest.js';

/** The backup.info record of the backup `manifest` describes, its annotations and pin included. */
export function recordOfManifest(manifest: Manifest): BackupRecord {
  const { backup, files } = manifest;
  const { label } = backup;
  const own = files.filter((file) => file.stored.holder === label);
  return {
    label,
    type: backup.type,
    ...(backup.prior === undefined ? {} : { prior: backup.prior }),
    timestampStart: backup.timestampStart,
    timestampStop: backup.timestampStop,
    lsnStart: backup.lsnStart,
    lsnStop: backup.lsnStop,
    walStart: backup.walStart,
    walStop: backup.walStop,
    dbId: manifest.db.id,
    size: files.reduce((sum, file) => sum + file.size, 0),
    repoSize: files.reduce((sum, file) => sum + storedBytesOf(file), 0),
    // A block-stored file adds only the blocks this backup stored.
    sizeDelta: own.reduce((sum, file) => sum + addedBytesOf(file, label), 0),
    repoSizeDelta: own.reduce((sum, file) => sum + file.stored.size, 0),
    references: backup.references,
    fileCount: files.length,
    compressType: backup.compressType,
    encrypted: backup.encrypted,
    archiveCopy: backup.archiveCopy,
    pageChecksumErrors: files.reduce((sum, file) => sum + (file.pageChecksumErrors?.length ?? 0), 0),
    ...(backup.timezone === undefined ? {} : { timezone: backup.timezone }),
    ...(backup.timezoneAbbreviations === undefined
      ? {}
      : { timezoneAbbreviations: backup.timezoneAbbreviations }),
    ...(backup.xidStart === undefined ? {} : { xidStart: backup.xidStart }),
    ...(backup.xidStop === undefined ? {} : { xidStop: backup.xidStop }),
    ...(backup.annotation === undefined ? {} : { annotation: backup.annotation }),
    ...(backup.pinned === undefined ? {} : { pinned: backup.pinned }),
  };
}
