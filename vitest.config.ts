// Vitest configuration: unit tests run in parallel; integration tests own real servers and get long timeouts.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Vitest runs the files that took longest first, from the durations it records in its cache; .ci/run keeps that
  // cache outside the checkout (PGSTASH_VITEST_CACHE), so a fresh clone does not start a long file last and leave
  // one worker running it alone at the end.
  ...(process.env['PGSTASH_VITEST_CACHE'] === undefined
    ? {}
    : { cacheDir: process.env['PGSTASH_VITEST_CACHE'] }),
  test: {
    include: ['test/**/*.test.ts'],
    // Every test file fails if it leaves a test directory behind in TMPDIR.
    setupFiles: ['test/harness/leak-check.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Two test files at once, also on 2 cores (vitest's default there is one): integration tests spend most of their
    // time waiting on PostgreSQL (start, checkpoints, archiving), so a second file fills that time. Every test makes
    // its own directories, ports and servers, so files do not share anything.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
