// A write that fails mid-way, as a backup whose source fails: parts already sent, then the stream destroyed.
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';

import type { Driver } from '../../src/storage/driver.js';

/** Destroys `stream` (with `error`, if given) and resolves once it is closed: once the driver has cleaned up. */
export function destroyWrite(stream: Writable, error?: Error): Promise<void> {
  const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  stream.on('error', () => undefined);
  stream.destroy(error);
  return closed;
}

/**
 * Opens a write of `path`, writes `mib` MiB (enough to start a multipart upload, staged blocks or a resumable
 * session), then destroys it with an error; resolves once the driver has cleaned up.
 */
export async function abortedWrite(driver: Driver, path: string, mib = 12): Promise<void> {
  const stream = await driver.openWrite(path);
  for (let i = 0; i < mib; i++) {
    await new Promise<void>((resolve, reject) =>
      stream.write(randomBytes(1024 * 1024), (error) => (error ? reject(error) : resolve())),
    );
  }
  await destroyWrite(stream, new Error('source failed'));
}
