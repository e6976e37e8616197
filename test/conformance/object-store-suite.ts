// Runs the storage conformance suite on an object store: one server and bucket for the file, a fresh prefix per test.
import { afterAll, beforeAll, describe } from 'vitest';

import type { Driver } from '../../src/storage/driver.js';
import { defineDriverSuite } from './driver-suite.js';

/** How to run one store's server for the suite. */
export interface ObjectStoreUnderTest<Server extends { stop(): Promise<void> }> {
  /** Whether the server is installed: the harness's check (under CI=true a missing one throws: fail, never skip). */
  readonly available: boolean;
  start(): Promise<Server>;
  /** Makes the bucket (container) the suite works in. */
  makeBucket(server: Server): Promise<string>;
  /** A driver on the repository root `path` in `bucket`. */
  openDriver(server: Server, bucket: string, path: string): Driver;
}

/** Registers the conformance suite for the store `name` (e.g. 's3 (versitygw)'). */
export function defineObjectStoreSuite<Server extends { stop(): Promise<void> }>(
  name: string,
  store: ObjectStoreUnderTest<Server>,
): void {
  describe.skipIf(!store.available)(`${name} server`, () => {
    let server: Server | undefined;
    let bucket: string | undefined;
    let count = 0;

    beforeAll(async () => {
      server = await store.start();
      bucket = await store.makeBucket(server);
    });

    afterAll(async () => {
      await server?.stop();
    });

    // Each test gets its own prefix in the bucket: a fresh, empty repository root.
    defineDriverSuite(name, async () => {
      if (server === undefined || bucket === undefined) throw new Error(`the ${name} server did not start`);
      const driver = store.openDriver(server, bucket, `/test-${++count}`);
      return { driver, cleanup: () => driver.removeTree('') };
    });
  });
}
