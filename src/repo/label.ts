// Backup labels: YYYYMMDD-HHMMSSF for a full backup, <full label>_YYYYMMDD-HHMMSS{D,I} for diff and incr.
import type { BackupType } from './backup-info.js';

const TYPE_LETTER: Record<BackupType, string> = { full: 'F', diff: 'D', incr: 'I' };

function stamp(date: Date): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return (
    `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-` +
    `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`
  );
}

/** A new label for a backup started at `date` (local time, as pgBackRest does). */
export function backupLabel(type: BackupType, date: Date, prior?: string): string {
  const own = `${stamp(date)}${TYPE_LETTER[type]}`;
  if (type === 'full' || prior === undefined) return own;
  return `${prior.slice(0, 16)}_${own}`;
}

export const LABEL_PATTERN = /^\d{8}-\d{6}F(_\d{8}-\d{6}[DI])?$/;

export function isBackupLabel(name: string): boolean {
  return LABEL_PATTERN.test(name);
}
