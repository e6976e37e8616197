// Tests for readChunks: whole chunks whatever the reads, as listed, grown or shrunk, and into reused buffers.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkBuffers, readChunks } from '../../../src/storage/file-chunks.js';
import { openFile } from '../../../src/storage/file-io.js';
import { makeData } from '../io/helpers.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';

const CHUNK = 256 * 1024;
let dir: string;

beforeAll(async () => {
  dir = await createTempDir({ label: 'file-chunks' });
});

afterAll(async () => {
  await removeTempDir(dir);
});

async function chunksOf(data: Buffer, sizeHint: number, blocking: boolean): Promise<Buffer[]> {
  const path = join(dir, `f-${data.length}-${sizeHint}-${String(blocking)}`);
  await writeFile(path, data);
  const file = await openFile(path, 'r', { blocking });
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of readChunks(file, path, { chunkSize: CHUNK, sizeHint })) chunks.push(chunk);
    return chunks;
  } finally {
    await file.close();
  }
}

describe('readChunks', () => {
  for (const blocking of [false, true]) {
    it(`yields whole chunks and a shorter last one (${blocking ? 'blocking' : 'thread pool'} reads)`, async () => {
      for (const length of [0, 1, 8192, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5]) {
        const data = makeData(length, 'mixed', length + 1);
        // As listed, grown since (the hint is smaller), shrunk since (the hint is larger).
        for (const sizeHint of [length, Math.floor(length / 3), length + 100_000]) {
          const chunks = await chunksOf(data, sizeHint, blocking);
          expect(Buffer.concat(chunks).equals(data)).toBe(true);
          expect(chunks.slice(0, -1).every((chunk) => chunk.length === CHUNK)).toBe(true);
          expect(chunks.every((chunk) => chunk.length > 0 && chunk.length <= CHUNK)).toBe(true);
          expect(chunks.length).toBe(Math.ceil(length / CHUNK));
        }
      }
    });
  }

  it('names the file in a read error', async () => {
    const path = join(dir, 'unreadable');
    await writeFile(path, 'x');
    const file = await openFile(path, 'r', { blocking: true });
    await file.close();
    const reading = (async (): Promise<void> => {
      for await (const chunk of readChunks(file, path, { chunkSize: CHUNK, sizeHint: 1 })) void chunk;
    })();
    await expect(reading).rejects.toThrow(`unable to read '${path}'`);
  });
});

describe('readChunks into ChunkBuffers', () => {
  it('reads into buffers given back, the same bytes as without, and keeps at most `keep`', async () => {
    const data = makeData(5 * CHUNK + 17, 'mixed', 3);
    const path = join(dir, 'reused');
    await writeFile(path, data);
    const buffers = new ChunkBuffers(CHUNK, 2);
    const file = await openFile(path, 'r', { blocking: true });
    const seen = new Set<ArrayBufferLike>();
    const copies: Buffer[] = [];
    try {
      for await (const chunk of readChunks(file, path, {
        chunkSize: CHUNK,
        sizeHint: data.length,
        buffers,
      })) {
        copies.push(Buffer.from(chunk));
        seen.add(chunk.buffer);
        // The consumer is done with it at once: the next chunk is read into the same memory.
        buffers.give(chunk);
      }
    } finally {
      await file.close();
    }
    expect(Buffer.concat(copies).equals(data)).toBe(true);
    // One reused buffer for the five whole chunks, one of its own for the short last chunk.
    expect(seen.size).toBe(2);
  });

  it('ignores buffers it did not hand out (another size, or part of one)', () => {
    const buffers = new ChunkBuffers(CHUNK, 4);
    const other = Buffer.alloc(CHUNK - 1);
    buffers.give(other);
    buffers.give(Buffer.alloc(2 * CHUNK).subarray(CHUNK));
    expect(buffers.take()).not.toBe(other);
    const mine = buffers.take();
    buffers.give(mine);
    expect(buffers.take()).toBe(mine);
  });

  it('refuses buffers of another chunk size', async () => {
    const path = join(dir, 'mismatch');
    await writeFile(path, 'x');
    const file = await openFile(path, 'r', { blocking: true });
    try {
      const chunks = readChunks(file, path, {
        chunkSize: CHUNK,
        sizeHint: 1,
        buffers: new ChunkBuffers(1024, 1),
      });
      await expect(chunks.next()).rejects.toThrow(/chunk buffers of 1024 bytes/);
    } finally {
      await file.close();
    }
  });
});
