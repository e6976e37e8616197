// Runs the storage conformance suite against the posix driver, in both I/O flavours (thread pool and blocking),
// each test in a fresh temporary directory.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PosixDriver } from '../../src/storage/posix.js';
import { defineDriverSuite } from './driver-suite.js';

for (const blocking of [false, true]) {
  defineDriverSuite(blocking ? 'posix (blocking)' : 'posix', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pgstash-conformance-'));
    return {
      driver: new PosixDriver(join(root, 'repo'), { blocking }),
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  });
}
