// Vitest configuration: unit tests run in parallel; integration tests own real servers and get long timeouts.
import { defineConfig } from 'vitest/config';

export default defineConfig({
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
