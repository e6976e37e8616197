// Keeps a running backup's progress figures in its directory in the repository, where `info` reads them.
import { hostname } from 'node:os';
import type { Repository } from '../../repo/repository.js';
import type { ProgressFigures } from '../progress/figures.js';

/** The reporter's `record` for backup `label`: each call replaces the record with the figures of the moment. */
export function backupProgressRecorder(
  repo: Repository,
  label: string,
  intervalMs: number,
): (figures: ProgressFigures) => Promise<void> {
  const started = Date.now();
  const host = hostname();
  return (figures) =>
    repo.backups.recordProgress({
      label,
      host,
      pid: process.pid,
      started,
      updated: Date.now(),
      interval: Math.max(1, Math.round(intervalMs / 1000)),
      bytes: { total: figures.bytesTotal, done: Math.min(figures.bytesDone, figures.bytesTotal) },
      files: { total: figures.filesTotal, done: figures.filesDone },
      rate: figures.rate === undefined ? null : Math.round(figures.rate),
      eta: figures.etaSeconds ?? null,
    });
}
