// Tests for compression: round trips for every type and level through decodeStored (the read path of restore and
// archive-get), interoperability with gzip(1), lz4(1), zstd(1).
import { constants as zlibConstants, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPgStashError, PgStashError } from '../../../src/common/errors.js';
import { CHUNK_SIZE, chunksOf } from '../../../src/io/chunker.js';
import {
  COMPRESS_CONCURRENCY,
  COMPRESS_TYPES,
  chunkCompressor,
  compressExtension,
  compressTypeOfName,
  defaultCompressLevel,
  type CompressType,
} from '../../../src/io/compress.js';
import { decodeStored } from '../../../src/io/decode.js';
import { chunkSizes, encoded, makeData, runTool, skippableFrame, testData } from './helpers.js';

const COMPRESSED: readonly Exclude<CompressType, 'none'>[] = ['gz', 'lz4', 'zst'];

const LEVELS: Readonly<Record<Exclude<CompressType, 'none'>, readonly number[]>> = {
  gz: [0, 1, 6, 9],
  lz4: [-5, 1, 12],
  zst: [-7, 1, 3, 19],
};

/**
 * `data` cut as chunkedSource cuts it (sizes cycled, at most about 2000 pieces), each piece handed over as it is:
 * a stream's iterator would merge small pieces.
 */
async function* pieces(data: Buffer, sizes: readonly number[] = [65536]): AsyncGenerator<Buffer> {
  const floor = Math.ceil(data.length / 2000);
  for (let offset = 0, index = 0; offset < data.length; index++) {
    const size = Math.max(sizes[index % sizes.length] ?? 65536, floor, 1);
    yield data.subarray(offset, offset + size);
    offset += size;
  }
}

const METERED_PIECE = 65536;

/** `data` in pieces of METERED_PIECE bytes, and how many bytes have been handed out so far. */
function metered(data: Buffer): { source: AsyncGenerator<Buffer>; read: () => number } {
  let read = 0;
  async function* source(): AsyncGenerator<Buffer> {
    for await (const piece of pieces(data, [METERED_PIECE])) {
      read += piece.length;
      yield piece;
    }
  }
  return { source: source(), read: () => read };
}

/** Everything decodeStored yields for `stored` (read in pieces of `sizes`), as one buffer. */
async function decode(
  type: CompressType,
  stored: Buffer | AsyncIterable<Buffer>,
  sizes?: readonly number[],
  lz4OnPool = false,
): Promise<Buffer> {
  const output: Buffer[] = [];
  const source = Buffer.isBuffer(stored) ? pieces(stored, sizes) : stored;
  for await (const piece of decodeStored(source, { compressType: type, lz4OnPool })) output.push(piece);
  return Buffer.concat(output);
}

/** `data` compressed as the chunk loop compresses a repository file (encodeStored, without encryption). */
async function compressData(
  type: CompressType,
  data: Buffer,
  level = defaultCompressLevel(type),
): Promise<Buffer> {
  return encoded(data, { compress: { type, level } });
}

async function formatError(run: Promise<unknown>): Promise<PgStashError> {
  const error = await run.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (isPgStashError(error, 'format')) return error;
  throw new Error(`expected a format error, got ${String(error)}`);
}

/** 5 MiB + 17 bytes of mixed compressible and random data: several chunks, the last one short. */
const BIG = makeData(5 * CHUNK_SIZE + 17, 'mixed', 42);

const CLI_DECOMPRESS: Readonly<Record<Exclude<CompressType, 'none'>, readonly string[]>> = {
  gz: ['gzip', '-dc'],
  lz4: ['lz4', '-dc'],
  zst: ['zstd', '-dc'],
};

describe('compression types', () => {
  it('map to extensions and back', () => {
    expect(COMPRESS_TYPES.map(compressExtension)).toEqual(['', '.gz', '.lz4', '.zst']);
    expect(compressTypeOfName('000000010000000000000001-abc.gz')).toBe('gz');
    expect(compressTypeOfName('base/1/1259.lz4')).toBe('lz4');
    expect(compressTypeOfName('x.zst')).toBe('zst');
    expect(compressTypeOfName('000000010000000000000001-abc')).toBe('none');
    expect(compressTypeOfName('file.gzip')).toBe('none');
  });

  it('have pgBackRest default levels', () => {
    expect(COMPRESS_TYPES.map(defaultCompressLevel)).toEqual([0, 6, 1, 3]);
  });

  it('store none as the bytes themselves, and decode none as the stored bytes themselves', async () => {
    const data = makeData(3 * CHUNK_SIZE + 5, 'mixed', 7);
    expect((await compressData('none', data)).equals(data)).toBe(true);
    const yielded: Buffer[] = [];
    for await (const piece of decodeStored(pieces(data, [100_000, 1]), {
      compressType: 'none',
      lz4OnPool: false,
    }))
      yielded.push(piece);
    expect(Buffer.concat(yielded).equals(data)).toBe(true);
    // Passed through piece by piece, not gathered.
    expect(yielded.every((piece) => piece.length <= 100_000)).toBe(true);
    expect((await decode('none', Buffer.alloc(0))).length).toBe(0);
  });

  it('reject a level out of range', () => {
    for (const [type, level] of [
      ['gz', 10],
      ['gz', -1],
      ['zst', 23],
      ['lz4', 13],
      ['zst', 1.5],
      ['none', 1],
    ] as const) {
      let error: unknown;
      try {
        chunkCompressor(type, level);
      } catch (caught) {
        error = caught;
      }
      expect(isPgStashError(error, 'optionInvalidValue')).toBe(true);
    }
  });
});

describe.each(COMPRESSED)('%s', (type) => {
  it('round-trips any data, at any level, whatever the chunking of the stored bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        testData,
        fc.constantFrom(...LEVELS[type]),
        chunkSizes,
        fc.boolean(),
        async (data, level, readSizes, lz4OnPool) => {
          const compressed = await compressData(type, data, level);
          expect(compressed.length).toBeGreaterThan(0);
          expect((await decode(type, compressed, readSizes, lz4OnPool)).equals(data)).toBe(true);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('stores each chunk as its own frame: the file is chunkCompressor of each chunk, in order', async () => {
    const level = defaultCompressLevel(type);
    const compress = chunkCompressor(type, level);
    for (const length of [0, 1, 8192, CHUNK_SIZE, 3 * CHUNK_SIZE + 5]) {
      const data = makeData(length, 'mixed', length);
      const frames =
        length === 0 ? [await compress(data)] : await Promise.all([...chunksOf(data)].map(compress));
      expect((await compressData(type, data, level)).equals(Buffer.concat(frames))).toBe(true);
    }
    await expect(
      chunkCompressor(type, defaultCompressLevel(type))(Buffer.alloc(CHUNK_SIZE + 1)),
    ).rejects.toThrow(/more than one chunk/);
  });

  it('writes files the CLI tool decompresses exactly (5 MiB + 17 bytes, several frames)', async () => {
    const compressed = await compressData(type, BIG);
    const [command, ...args] = CLI_DECOMPRESS[type] as [string, ...string[]];
    expect(runTool(command, args, compressed).equals(BIG)).toBe(true);
  });

  it('writes an empty input as a valid file the CLI tool reads back as empty', async () => {
    const compressed = await compressData(type, Buffer.alloc(0));
    expect(compressed.length).toBeGreaterThan(0);
    const [command, ...args] = CLI_DECOMPRESS[type] as [string, ...string[]];
    expect(runTool(command, args, compressed).length).toBe(0);
    expect((await decode(type, compressed)).length).toBe(0);
  });

  it('reads files written by the CLI tool, including multi-frame files made with cat', async () => {
    const command = { gz: 'gzip', lz4: 'lz4', zst: 'zstd' }[type];
    const a = runTool(command, ['-c'], BIG);
    const b = runTool(command, ['-c'], Buffer.from('second part'));
    const empty = runTool(command, ['-c'], Buffer.alloc(0));
    for (const sizes of [[65536], [1], [3 * CHUNK_SIZE], [1000, 7, 100_000]]) {
      const both = await decode(type, Buffer.concat([a, empty, b]), sizes);
      expect(both.equals(Buffer.concat([BIG, Buffer.from('second part')]))).toBe(true);
    }
  });

  it('rejects garbage, an empty input, and a truncated file with a format error', async () => {
    const compressed = await compressData(type, makeData(3 * CHUNK_SIZE, 'mixed', 9));
    expect((await formatError(decode(type, Buffer.from('this is not compressed data')))).message).toMatch(
      new RegExp(`^invalid ${type} data: `),
    );
    await formatError(decode(type, Buffer.alloc(0)));
    for (const cut of [1, 10, CHUNK_SIZE / 2, compressed.length - 1]) {
      await formatError(decode(type, compressed.subarray(0, cut)));
    }
    await formatError(decode(type, Buffer.concat([compressed, Buffer.from('trailing junk')])));
  });

  it('rejects a damaged frame with a format error', async () => {
    const compressed = Buffer.from(await compressData(type, makeData(CHUNK_SIZE, 'text', 5)));
    // Flip a byte well inside the compressed data (past the headers).
    const at = Math.floor(compressed.length / 2);
    compressed[at] = (compressed[at] as number) ^ 0xff;
    const outcome = await decode(type, compressed).then(
      (output) => output,
      (error: unknown) => error,
    );
    // zstd frames from the library carry no checksum: a flipped literal can decompress "fine" but differently.
    if (Buffer.isBuffer(outcome)) expect(outcome.equals(makeData(CHUNK_SIZE, 'text', 5))).toBe(false);
    else expect(isPgStashError(outcome, 'format')).toBe(true);
  });
});

describe('levels', () => {
  it.each([
    ['zst', [-7, 1, 19]],
    ['gz', [0, 1, 9]],
  ] as const)('%s: a higher level compresses smaller', async (type, levels) => {
    const data = makeData(CHUNK_SIZE, 'text', 11);
    const sizes = await Promise.all(
      levels.map(async (level) => (await compressData(type, data, level)).length),
    );
    expect(sizes[0]).toBeGreaterThan(sizes[1] as number);
    expect(sizes[1]).toBeGreaterThan(sizes[2] as number);
  });
});

describe('lz4 and zst', () => {
  it.each([
    ['lz4', ['-B4', '-BX'], 'lz4'],
    ['lz4', ['-BD', '--no-frame-crc'], 'lz4'],
    ['lz4', ['-B7', '--content-size', '-9'], 'lz4'],
    ['zst', ['--no-check', '-19'], 'zstd'],
    ['zst', ['--long=24', '-T2'], 'zstd'],
  ] as const)('%s: read files made by the CLI tool with options %j', async (type, options, command) => {
    const data = makeData(3 * CHUNK_SIZE + 11, 'mixed', 13);
    const compressed = runTool(command, ['-q', '-c', ...options], data);
    expect((await decode(type, compressed, [100_000])).equals(data)).toBe(true);
  });

  it.each(['lz4', 'zst'] as const)('%s: write one standard frame per 1 MiB chunk', async (type) => {
    const compressed = await compressData(type, BIG);
    const magic = type === 'lz4' ? 0x184d2204 : 0xfd2fb528;
    let frames = 0;
    for (
      let offset = compressed.indexOf(Buffer.from([magic & 0xff]));
      offset >= 0;
      offset = compressed.indexOf(magic & 0xff, offset + 1)
    ) {
      if (offset + 4 <= compressed.length && compressed.readUInt32LE(offset) === magic) frames++;
    }
    // 6 chunks; a magic number can also appear by chance inside random data, hence at least.
    expect(frames).toBeGreaterThanOrEqual(6);
    const listed = runTool(type === 'lz4' ? 'lz4' : 'zstd', ['-dc'], compressed);
    expect(listed.length).toBe(BIG.length);
  });

  it.each(['lz4', 'zst'] as const)('%s: skip skippable frames written by other tools', async (type) => {
    const compressed = await compressData(type, Buffer.from('payload'));
    const stream = Buffer.concat([
      skippableFrame(Buffer.from('meta')),
      compressed,
      skippableFrame(Buffer.alloc(3), 15),
    ]);
    expect((await decode(type, stream, [3])).toString()).toBe('payload');
  });
});

describe('gz', () => {
  it('reads a file compressed at level 0 (stored blocks) and by node:zlib directly', async () => {
    const data = makeData(100_000, 'text', 3);
    const stored = gzipSync(data, { level: zlibConstants.Z_NO_COMPRESSION });
    expect((await decode('gz', stored, [999])).equals(data)).toBe(true);
  });
});

describe('decodeStored', () => {
  it.each(COMPRESS_TYPES)('%s: passes an error of the stored data source through unchanged', async (type) => {
    // Valid data first, so the error comes mid-file, inside gunzip's pipeline or between frames.
    const compressed = type === 'none' ? BIG : await compressData(type, BIG);
    const failure = new PgStashError('fileRead', "unable to read file '/repo/x': EIO");
    async function* failing(): AsyncGenerator<Buffer> {
      yield compressed.subarray(0, 2 * CHUNK_SIZE);
      throw failure;
    }
    await expect(decode(type, failing())).rejects.toBe(failure);
  });

  it.each(['lz4', 'zst'] as const)(
    '%s: yields frames in order, reading the stored data only a few frames ahead',
    async (type) => {
      const compressed = await compressData(type, BIG);
      // Where each frame ends: the chunk loop stores chunkCompressor's frame of each 1 MiB chunk.
      const frameEnds: number[] = [];
      for (let offset = 0, end = 0; offset < BIG.length; offset += CHUNK_SIZE) {
        end += (
          await chunkCompressor(type, defaultCompressLevel(type))(BIG.subarray(offset, offset + CHUNK_SIZE))
        ).length;
        frameEnds.push(end);
      }
      expect(frameEnds.at(-1)).toBe(compressed.length);
      const stored = metered(compressed);
      const output: Buffer[] = [];
      for await (const chunk of decodeStored(stored.source, { compressType: type, lz4OnPool: false })) {
        // Output k leaves once frames up to k + COMPRESS_CONCURRENCY - 1 are read, not more (but whole pieces).
        const readable = frameEnds[Math.min(output.length + COMPRESS_CONCURRENCY - 1, frameEnds.length - 1)];
        expect(stored.read()).toBeLessThanOrEqual((readable as number) + METERED_PIECE);
        output.push(chunk);
      }
      expect(output.length).toBe(frameEnds.length);
      expect(Buffer.concat(output).equals(BIG)).toBe(true);
    },
  );

  it('gz: yields output before the stored data is read whole', async () => {
    const compressed = await compressData('gz', BIG);
    const stored = metered(compressed);
    let readAtFirst: number | undefined;
    const output: Buffer[] = [];
    for await (const chunk of decodeStored(stored.source, { compressType: 'gz', lz4OnPool: false })) {
      readAtFirst ??= stored.read();
      output.push(chunk);
    }
    expect(Buffer.concat(output).equals(BIG)).toBe(true);
    // 3.4 MiB stored, in gzip members of 620-800 KiB: output starts before even the first one is read whole (the
    // stream feeding zlib holds one piece, zlib a piece or two).
    expect(readAtFirst).toBeLessThanOrEqual(8 * METERED_PIECE);
  });
});
