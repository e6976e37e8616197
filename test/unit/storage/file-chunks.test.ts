// Tests for readChunks: whole chunks whatever the reads, whether the file is as listed, grew or shrank.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readChunks } from '../../../src/storage/file-chunks.js';
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
