// Test helpers for the io chunk loop: deterministic test data, chunked sources, encoding to a buffer.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import fc from 'fast-check';
import { CHUNK_SIZE, chunksOf } from '../../../src/io/chunker.js';
import { encodeStored, type EncodeOptions } from '../../../src/io/encode.js';

export type DataKind = 'random' | 'zeros' | 'text' | 'mixed';

/** Deterministic data of a kind: incompressible, trivially compressible, text-like, or alternating pieces. */
export function makeData(length: number, kind: DataKind, seed = 1): Buffer {
  const data = Buffer.alloc(length);
  if (kind === 'zeros') return data;
  let state = seed >>> 0 || 1;
  const next = (): number => {
    // xorshift32: fast, deterministic, good enough to defeat compressors.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const words = 'postgres wal segment checkpoint relation tuple vacuum index heap page '.split(' ');
  let offset = 0;
  let randomPiece = kind === 'random';
  while (offset < length) {
    const piece = kind === 'mixed' ? 1 + (next() % 70_000) : length;
    const end = Math.min(length, offset + piece);
    if (randomPiece) {
      for (; offset < end; offset++) data[offset] = next() & 0xff;
    } else {
      while (offset < end)
        offset += data.write(`${words[next() % words.length]} ${next() % 1000} `, offset, end - offset);
    }
    if (kind === 'mixed') randomPiece = !randomPiece;
  }
  return data;
}

/** A stream of `data` cut into pieces of the given sizes (cycled); at most about 2000 pieces. */
export function chunkedSource(data: Buffer, sizes: readonly number[] = [65536]): Readable {
  const floor = Math.ceil(data.length / 2000);
  const pieces: Buffer[] = [];
  for (let offset = 0, index = 0; offset < data.length; index++) {
    const size = Math.max(sizes[index % sizes.length] ?? 65536, floor, 1);
    pieces.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return Readable.from(pieces, { objectMode: false });
}

/** Collects what is written to it. */
export class BufferSink extends Writable {
  readonly chunks: Buffer[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    callback();
  }

  get data(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** What encodeStored stores of `data` (given as whole chunks, as the chunk loop takes it), as one buffer. */
export async function encoded(data: Buffer, options: EncodeOptions): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of encodeStored(chunksOf(data), options)) pieces.push(piece);
  return Buffer.concat(pieces);
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Lengths worth testing: empty, tiny, and around one and two chunk boundaries. */
export const boundaryLength = fc.oneof(
  fc.constantFrom(
    0,
    1,
    CHUNK_SIZE - 1,
    CHUNK_SIZE,
    CHUNK_SIZE + 1,
    2 * CHUNK_SIZE - 1,
    2 * CHUNK_SIZE,
    2 * CHUNK_SIZE + 7,
  ),
  fc.nat({ max: 5000 }),
  fc.integer({ min: 5000, max: 3 * CHUNK_SIZE }),
);

export const dataKind = fc.constantFrom<DataKind>('random', 'zeros', 'text', 'mixed');

/** Read chunkings: tiny, medium and large pieces, cycled. */
export const chunkSizes = fc.array(
  fc.oneof(
    fc.integer({ min: 1, max: 100 }),
    fc.integer({ min: 100, max: 100_000 }),
    fc.integer({ min: 100_000, max: 3 * CHUNK_SIZE }),
  ),
  { minLength: 1, maxLength: 5 },
);

/** Data of a boundary length, kind and seed. */
export const testData = fc
  .record({ length: boundaryLength, kind: dataKind, seed: fc.integer({ min: 1 }) })
  .map(({ length, kind, seed }) => makeData(length, kind, seed));

/** Runs a CLI tool (lz4, zstd, gzip) on `input` and returns its stdout; throws on a non-zero exit. */
export function runTool(command: string, args: readonly string[], input: Buffer): Buffer {
  const result = spawnSync(command, args, { input, maxBuffer: 1 << 30 });
  if (result.error !== undefined) throw result.error;
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited with ${String(result.status)}: ${result.stderr.toString()}`,
    );
  }
  return result.stdout;
}

/** A skippable frame (lz4 and zstd) with magic 0x184D2A5<nibble> and the given payload. */
export function skippableFrame(payload: Buffer, nibble = 0): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0x184d2a50 + nibble, 0);
  header.writeUInt32LE(payload.length, 4);
  return Buffer.concat([header, payload]);
}
