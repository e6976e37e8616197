// Tests for compression: round trips for every type and level, interoperability with gzip(1), lz4(1), zstd(1).
import { constants as zlibConstants, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPgStashError, PgStashError } from '../../../src/common/errors.js';
import { CHUNK_SIZE } from '../../../src/io/chunker.js';
import {
  COMPRESS_TYPES,
  chunkCompressor,
  compressExtension,
  compressTypeOfName,
  createCompressFilter,
  createDecompressFilter,
  defaultCompressLevel,
  type CompressType,
} from '../../../src/io/compress.js';
import { chunkSizes, makeData, runFilters, runTool, skippableFrame, testData } from './helpers.js';

const COMPRESSED: readonly Exclude<CompressType, 'none'>[] = ['gz', 'lz4', 'zst'];

const LEVELS: Readonly<Record<Exclude<CompressType, 'none'>, readonly number[]>> = {
  gz: [0, 1, 6, 9],
  lz4: [-5, 1, 12],
  zst: [-7, 1, 3, 19],
};

function compressor(type: CompressType, level = defaultCompressLevel(type), concurrency?: number) {
  const filter = createCompressFilter(type, level, concurrency === undefined ? undefined : { concurrency });
  if (filter === undefined) throw new Error(`no compress filter for '${type}'`);
  return filter;
}

function decompressor(type: CompressType) {
  const filter = createDecompressFilter(type);
  if (filter === undefined) throw new Error(`no decompress filter for '${type}'`);
  return filter;
}

async function compressData(type: CompressType, data: Buffer, level?: number): Promise<Buffer> {
  return runFilters(data, [compressor(type, level)]);
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

  it('have no filters for none', () => {
    expect(createCompressFilter('none', 0)).toBeUndefined();
    expect(createDecompressFilter('none')).toBeUndefined();
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
        createCompressFilter(type, level);
      } catch (caught) {
        error = caught;
      }
      expect(isPgStashError(error, 'optionInvalidValue')).toBe(true);
    }
  });
});

describe.each(COMPRESSED)('%s', (type) => {
  it('round-trips any data, at any level, whatever the chunking on both sides', async () => {
    await fc.assert(
      fc.asyncProperty(
        testData,
        fc.constantFrom(...LEVELS[type]),
        chunkSizes,
        chunkSizes,
        fc.integer({ min: 1, max: 4 }),
        async (data, level, writeSizes, readSizes, concurrency) => {
          const compressed = await runFilters(data, [compressor(type, level, concurrency)], writeSizes);
          expect(compressed.length).toBeGreaterThan(0);
          expect((await runFilters(compressed, [decompressor(type)], readSizes)).equals(data)).toBe(true);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('chunkCompressor makes the same bytes as the filter for up to one chunk', async () => {
    for (const length of [0, 1, 8192, CHUNK_SIZE]) {
      const data = makeData(length, 'mixed', length);
      const level = defaultCompressLevel(type);
      const streamed = await runFilters(data, [compressor(type, level, 1)]);
      expect((await chunkCompressor(type, level)(data)).equals(streamed)).toBe(true);
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
    expect((await runFilters(compressed, [decompressor(type)])).length).toBe(0);
  });

  it('reads files written by the CLI tool, including multi-frame files made with cat', async () => {
    const command = { gz: 'gzip', lz4: 'lz4', zst: 'zstd' }[type];
    const a = runTool(command, ['-c'], BIG);
    const b = runTool(command, ['-c'], Buffer.from('second part'));
    const empty = runTool(command, ['-c'], Buffer.alloc(0));
    for (const sizes of [[65536], [1], [3 * CHUNK_SIZE], [1000, 7, 100_000]]) {
      const both = await runFilters(Buffer.concat([a, empty, b]), [decompressor(type)], sizes);
      expect(both.equals(Buffer.concat([BIG, Buffer.from('second part')]))).toBe(true);
    }
  });

  it('rejects garbage, an empty input, and a truncated file with a format error', async () => {
    const compressed = await compressData(type, makeData(3 * CHUNK_SIZE, 'mixed', 9));
    expect(
      (await formatError(runFilters(Buffer.from('this is not compressed data'), [decompressor(type)])))
        .message,
    ).toMatch(new RegExp(`^invalid ${type} data: `));
    await formatError(runFilters(Buffer.alloc(0), [decompressor(type)]));
    for (const cut of [1, 10, CHUNK_SIZE / 2, compressed.length - 1]) {
      await formatError(runFilters(compressed.subarray(0, cut), [decompressor(type)]));
    }
    await formatError(
      runFilters(Buffer.concat([compressed, Buffer.from('trailing junk')]), [decompressor(type)]),
    );
  });

  it('rejects a damaged frame with a format error', async () => {
    const compressed = Buffer.from(await compressData(type, makeData(CHUNK_SIZE, 'text', 5)));
    // Flip a byte well inside the compressed data (past the headers).
    const at = Math.floor(compressed.length / 2);
    compressed[at] = (compressed[at] as number) ^ 0xff;
    const outcome = await runFilters(compressed, [decompressor(type)]).then(
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
    expect((await runFilters(compressed, [decompressor(type)], [100_000])).equals(data)).toBe(true);
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
    expect((await runFilters(stream, [decompressor(type)], [3])).toString()).toBe('payload');
  });
});

describe('gz', () => {
  it('passes errors from elsewhere in the pipeline through unchanged', async () => {
    const filter = decompressor('gz');
    const failure = new Error('not a zlib error');
    filter.destroy(failure);
    await expect(new Promise((_resolve, reject) => filter.on('error', reject))).rejects.toBe(failure);
  });

  it('reads a file compressed at level 0 (stored blocks) and by node:zlib directly', async () => {
    const data = makeData(100_000, 'text', 3);
    const stored = gzipSync(data, { level: zlibConstants.Z_NO_COMPRESSION });
    expect((await runFilters(stored, [decompressor('gz')], [999])).equals(data)).toBe(true);
  });
});
