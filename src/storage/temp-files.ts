// The temp files this process is writing, so that a command killed by a signal can remove them before it dies.
import { unlinkSync } from 'node:fs';

const inProgress = new Set<string>();

/** Records `path` as a file in progress; the returned function forgets it (call it once renamed or removed). */
export function trackTempFile(path: string): () => void {
  inProgress.add(path);
  return () => {
    inProgress.delete(path);
  };
}

/** How many files are in progress (for tests). */
export function tempFilesInProgress(): number {
  return inProgress.size;
}

/**
 * Removes every file still in progress, synchronously: it runs in a signal handler, just before the process
 * dies. A file renamed into place meanwhile is no longer at its temp path and stays.
 */
export function removeTempFilesNow(): void {
  for (const path of inProgress) {
    try {
      unlinkSync(path);
    } catch {
      // Renamed into place or removed already.
    }
  }
  inProgress.clear();
}
