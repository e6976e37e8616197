// Fails a test file that leaves a test directory behind (vitest setupFiles): each test cleans up after itself.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { keepingTempDirs, leftTempDirs, removeAllTempDirs } from './tmp.js';

/**
 * Registered before the file's own hooks, so it runs after them (vitest runs after-hooks in reverse order): by
 * then every directory the file's tests made with createTempDir must be gone from disk. Those left are named in
 * the failure, which counts as a failure of the file, and removed so that runs do not pile them up in TMPDIR.
 */
afterAll(async () => {
  if (keepingTempDirs()) return;
  const left = leftTempDirs();
  if (left.length === 0) return;
  await removeAllTempDirs();
  for (const name of left) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  throw new Error(
    `this test file left ${left.length} test director${left.length === 1 ? 'y' : 'ies'} in '${tmpdir()}': ` +
      `${left.join(', ')}; remove each one (removeTempDir, or a destroy() in afterAll) before the file ends`,
  );
});
