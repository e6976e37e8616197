// Tests for readAhead: any file comes back exact and in order, past the page cache, and through it where refused.
import { randomBytes } from 'node:crypto';
import { closeSync, constants } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIRECT_ALIGNMENT, DirectFileWriter } from '../../../src/storage/direct-file.js';
import { DIRECT_READ_SIZE, openForDirectRead, readAhead } from '../../../src/storage/direct-read.js';
import { cachedBytes } from '../../harness/page-cache.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';
import { Tmpfs } from '../../harness/tmpfs.js';

let dir: string;

beforeAll(async () => {
  dir = await createTempDir({ label: 'direct-read', owner: 'root' });
});

afterAll(async () => {
  await removeTempDir(dir);
});

/** Everything readAhead gives for `path`, copied (each chunk's buffer is read into again), and whether it was direct. */
async function readAll(path: string, direct = true): Promise<{ data: Buffer; direct: boolean }> {
  const opened = openForDirectRead(path, constants.O_RDONLY | constants.O_NOFOLLOW, direct);
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of readAhead(opened.fd)) chunks.push(Buffer.from(chunk));
    return { data: Buffer.concat(chunks), direct: opened.direct };
  } finally {
    closeSync(opened.fd);
  }
}

/** Writes `data` with direct I/O, so that nothing but its unaligned tail is in the page cache. */
async function writeUncached(path: string, data: Buffer): Promise<void> {
  const writer = DirectFileWriter.create(path, 0o600, { direct: true });
  try {
    await writer.write(data);
    await writer.finish();
  } finally {
    await writer.close();
  }
}

const SIZES = [
  0,
  100,
  DIRECT_ALIGNMENT,
  DIRECT_READ_SIZE - 1,
  DIRECT_READ_SIZE,
  4 * DIRECT_READ_SIZE,
  5 * DIRECT_READ_SIZE + 12_345,
  9 * DIRECT_READ_SIZE + 1,
];

describe('readAhead', () => {
  it('gives every size back exactly, with direct I/O on this filesystem, filling no page cache', async () => {
    for (const size of SIZES) {
      const path = join(dir, `file-${size}`);
      const data = randomBytes(size);
      await writeUncached(path, data);
      const before = await cachedBytes(path);
      const read = await readAll(path);
      expect(read.direct).toBe(true);
      expect(read.data.equals(data), `size ${size}`).toBe(true);
      // Direct reads leave the page cache as they found it: at most the tail the writer put through it.
      expect(await cachedBytes(path)).toBeLessThanOrEqual(Math.max(before, DIRECT_ALIGNMENT));
    }
  });

  it('a span (start, end on aligned offsets) gives exactly those bytes, or up to the end of a shorter file', async () => {
    const size = 5 * DIRECT_READ_SIZE + 12_345;
    const path = join(dir, 'spans');
    const data = randomBytes(size);
    await writeUncached(path, data);
    const spans = [
      { start: 0, end: DIRECT_ALIGNMENT },
      { start: DIRECT_ALIGNMENT, end: 3 * DIRECT_READ_SIZE + 2 * DIRECT_ALIGNMENT },
      { start: 2 * DIRECT_READ_SIZE, end: 4 * DIRECT_READ_SIZE },
      { start: 4 * DIRECT_READ_SIZE + DIRECT_ALIGNMENT, end: 9 * DIRECT_READ_SIZE },
      { start: 8 * DIRECT_READ_SIZE, end: 9 * DIRECT_READ_SIZE },
      { start: 3 * DIRECT_READ_SIZE, end: 3 * DIRECT_READ_SIZE },
    ];
    for (const span of spans) {
      const opened = openForDirectRead(path, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        const chunks: Buffer[] = [];
        for await (const chunk of readAhead(opened.fd, span)) {
          expect(chunk.length).toBeLessThanOrEqual(DIRECT_READ_SIZE);
          chunks.push(Buffer.from(chunk));
        }
        expect(opened.direct).toBe(true);
        const expected = data.subarray(Math.min(span.start, size), Math.min(span.end, size));
        expect(Buffer.concat(chunks).equals(expected), JSON.stringify(span)).toBe(true);
      } finally {
        closeSync(opened.fd);
      }
    }
  });

  it('through the page cache when asked (direct: false), the same bytes', async () => {
    const path = join(dir, 'buffered');
    const data = randomBytes(3 * DIRECT_READ_SIZE + 777);
    await writeFile(path, data);
    const read = await readAll(path, false);
    expect(read.direct).toBe(false);
    expect(read.data.equals(data)).toBe(true);
  });

  it('a reader that stops early leaves no read running: the descriptor closes, and the next file reads right', async () => {
    const path = join(dir, 'stopped');
    const data = randomBytes(8 * DIRECT_READ_SIZE);
    await writeFile(path, data);
    const opened = openForDirectRead(path, constants.O_RDONLY);
    try {
      for await (const chunk of readAhead(opened.fd)) {
        expect(chunk.equals(data.subarray(0, DIRECT_READ_SIZE))).toBe(true);
        break;
      }
    } finally {
      closeSync(opened.fd);
    }
    // Two files at once share no buffer.
    const other = join(dir, 'other');
    const otherData = randomBytes(6 * DIRECT_READ_SIZE + 5);
    await writeFile(other, otherData);
    const [first, second] = await Promise.all([readAll(path), readAll(other)]);
    expect(first.data.equals(data)).toBe(true);
    expect(second.data.equals(otherData)).toBe(true);
  });

  it('tmpfs: every byte comes back, whether the kernel takes O_DIRECT there (6.6 on) or refuses it at the open', async () => {
    const fs = await Tmpfs.mount(join(dir, 'tmpfs'), { bytes: 64 << 20, mode: 0o700 });
    try {
      const path = join(fs.path, 'file');
      const data = randomBytes(5 * DIRECT_READ_SIZE + 3);
      await writeFile(path, data);
      expect((await readAll(path)).data.equals(data)).toBe(true);
    } finally {
      fs.unmount();
    }
  });
});
