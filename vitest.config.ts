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
    reporters: ['default'],
  },
});
