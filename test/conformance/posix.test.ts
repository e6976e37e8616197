// Runs the storage conformance suite against the posix driver, each test in a fresh temporary directory.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PosixDriver } from '../../src/storage/posix.js';
import { defineDriverSuite } from './driver-suite.js';

defineDriverSuite('posix', async () => {
  const root = await mkdtemp(join(tmpdir(), 'pgstash-conformance-'));
  return {
    driver: new PosixDriver(join(root, 'repo')),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
