// Tests for verifyAsWritten: hashes a file as it is reported written, never past what is reported, and names it.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPgStashError } from '../../../../src/common/errors.js';
import { verifiesAsWritten, verifyAsWritten } from '../../../../src/command/restore/verify-as-written.js';
import { WriteProgress } from '../../../../src/io/worker/write-progress.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgstash-verify-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 2));

/**
 * Writes `data` to `path` in `pieces`, reporting each; `before(offset)` may write something else first at a
 * later offset (bytes a reader must not see yet). Resolves like a restore job; fails after `failAt` bytes.
 */
async function writer(
  path: string,
  data: Buffer,
  progress: WriteProgress,
  options: { pieces: number; failAt?: number; garbageAhead?: boolean },
): Promise<void> {
  const handle = await open(path, 'w');
  try {
    progress.report(0);
    const step = Math.ceil(data.length / options.pieces);
    for (let offset = 0; offset < data.length; offset += step) {
      await tick();
      if (options.failAt !== undefined && offset >= options.failAt) {
        progress.fail();
        throw new Error('decompression failed');
      }
      const piece = data.subarray(offset, offset + step);
      // Garbage in the next piece's place, overwritten before it is reported: a reader past the report sees it.
      if (options.garbageAhead === true && offset + step < data.length)
        await handle.write(randomBytes(step), 0, step, offset + step);
      await handle.write(piece, 0, piece.length, offset);
      progress.report(offset + piece.length);
    }
  } finally {
    await handle.close();
  }
}

describe('verifyAsWritten', () => {
  it('passes a file whose content is the manifest one, reading only what was reported', async () => {
    const path = join(dir, '16445');
    const data = randomBytes(5 << 20);
    const progress = WriteProgress.create();
    const job = writer(path, data, progress, { pieces: 23, garbageAhead: true });
    await Promise.all([
      job,
      verifyAsWritten(
        { path, size: data.length, sha256: sha256(data), source: 'repo/16445.lz4' },
        progress,
        job,
      ),
    ]);
  });

  it('fails with a checksum error naming the repository file and the restored one', async () => {
    const path = join(dir, '16445');
    const data = randomBytes(3 << 20);
    const expected = Buffer.from(data);
    expected[12345] = (expected[12345] ?? 0) ^ 1;
    const progress = WriteProgress.create();
    const job = writer(path, data, progress, { pieces: 7 });
    const error = await verifyAsWritten(
      { path, size: data.length, sha256: sha256(expected), source: 'repo/16445.lz4' },
      progress,
      job,
    ).catch((caught: unknown) => caught);
    await job;
    expect(isPgStashError(error, 'checksum')).toBe(true);
    expect((error as Error).message).toContain(
      `'repo/16445.lz4' is corrupt: restored '${path}' has checksum`,
    );
    expect((error as Error).message).toContain(sha256(expected));
  });

  it('leaves the verdict to the job when the writer fails or the job ends early', async () => {
    const data = randomBytes(2 << 20);
    const failing = WriteProgress.create();
    const failed = writer(join(dir, 'a'), data, failing, { pieces: 8, failAt: 1 << 20 });
    failed.catch(() => undefined);
    await expect(
      verifyAsWritten(
        { path: join(dir, 'a'), size: data.length, sha256: sha256(data), source: 'a' },
        failing,
        failed,
      ),
    ).resolves.toBeUndefined();
    await expect(failed).rejects.toThrow('decompression failed');
    // A job that dies without a word (a terminated worker): the reader stops when the job does.
    const silent = WriteProgress.create();
    const died = Promise.reject(new Error('worker thread exited'));
    died.catch(() => undefined);
    await expect(
      verifyAsWritten({ path: join(dir, 'b'), size: 10, sha256: sha256(data), source: 'b' }, silent, died),
    ).resolves.toBeUndefined();
  });

  it('is used for lz4 only (the compression a worker decodes on its own thread), with a core to spare', () => {
    const cores = availableParallelism();
    expect(verifiesAsWritten('lz4', cores - 1)).toBe(cores > 1);
    expect(verifiesAsWritten('lz4', cores)).toBe(false);
    for (const type of ['none', 'gz', 'zst'] as const) expect(verifiesAsWritten(type, 1)).toBe(false);
  });
});
