// OffThreadDigest: the SHA-256 a digest thread computes through the shared ring is the file's, whatever the chunk
// sizes (larger than a slot, empty, more chunks than the ring holds), and a thread is freed by abandon for the next.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OFF_THREAD_DIGEST_BYTES, OffThreadDigest, contentDigestFor } from '../../../src/io/digest-thread.js';
import { ContentDigest } from '../../../src/io/stage.js';

const MiB = 1024 * 1024;

function sha256Of(chunks: readonly Buffer[]): string {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

/** Feeds `chunks` to a new OffThreadDigest, each chunk's buffer overwritten right after update, as the loop does. */
async function offThread(chunks: readonly Buffer[]): Promise<{ sha256: string; size: number }> {
  const digest = new OffThreadDigest();
  for (const chunk of chunks) {
    const reused = Buffer.from(chunk);
    digest.update(reused);
    reused.fill(0xaa);
  }
  return { sha256: await digest.digest(), size: digest.size };
}

describe('OffThreadDigest', () => {
  it('hashes chunks of any size, through many turns of the ring', async () => {
    // 40 MiB in pieces from empty to 3.5 MiB: chunks split over slots, and the ring (8 slots) wraps several times.
    const sizes = [0, 1, 4096, MiB, 3.5 * MiB, 0, 777, MiB - 1, MiB + 1];
    const chunks: Buffer[] = [];
    for (let total = 0, i = 0; total < 40 * MiB; i++) {
      const chunk = randomBytes(sizes[i % sizes.length] as number);
      chunks.push(chunk);
      total += chunk.length;
    }
    const result = await offThread(chunks);
    expect(result.sha256).toBe(sha256Of(chunks));
    expect(result.size).toBe(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  });

  it('gives the empty file its digest', async () => {
    expect((await offThread([])).sha256).toBe(sha256Of([]));
  });

  it('frees its thread when abandoned: the next file is hashed from a clean ring', async () => {
    const left = new OffThreadDigest();
    left.update(randomBytes(5 * MiB));
    left.abandon();
    left.abandon();
    expect(() => left.update(Buffer.alloc(1))).toThrow(/after the digest was taken/);
    const chunks = [randomBytes(2 * MiB), randomBytes(123)];
    expect((await offThread(chunks)).sha256).toBe(sha256Of(chunks));
  });

  it('runs several at once, each on its own thread', async () => {
    const files = [0, 1, 2].map(() => [randomBytes(3 * MiB), randomBytes(9 * MiB)]);
    const results = await Promise.all(files.map((chunks) => offThread(chunks)));
    results.forEach((result, index) => expect(result.sha256).toBe(sha256Of(files[index] ?? [])));
  });

  it('refuses data after the digest was taken', async () => {
    const digest = new OffThreadDigest();
    digest.update(Buffer.from('pgstash'));
    expect(await digest.digest()).toBe(sha256Of([Buffer.from('pgstash')]));
    expect(() => digest.update(Buffer.alloc(1))).toThrow(/after the digest was taken/);
  });
});

describe('contentDigestFor', () => {
  it('hashes a file on a digest thread from OFF_THREAD_DIGEST_BYTES on, smaller or unknown sizes on the caller', () => {
    const large = contentDigestFor(OFF_THREAD_DIGEST_BYTES);
    expect(large).toBeInstanceOf(OffThreadDigest);
    large.abandon();
    expect(contentDigestFor(OFF_THREAD_DIGEST_BYTES - 1)).toBeInstanceOf(ContentDigest);
    expect(contentDigestFor(undefined)).toBeInstanceOf(ContentDigest);
  });
});
