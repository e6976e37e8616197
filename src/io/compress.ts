// Compression types (none, gz, lz4, zst): file extensions, levels, the chunk compressor, and frame decoding.
import type { Transform } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { CHUNK_SIZE } from './chunker.js';
import { Lz4FrameScanner } from './frame/lz4.js';
import { decodeLz4Frame, type Lz4BlockDecoder } from './frame/lz4-decode.js';
import { encodeLz4Frame, type Lz4BlockEncoder } from './frame/lz4-encode.js';
import { FrameSplitter } from './frame/splitter.js';
import { loadNative } from './native.js';
import { ZstdFrameScanner } from './frame/zstd.js';
import { errnoOf, fail, messageOf, PgStashError } from '../common/errors.js';

export type CompressType = 'none' | 'gz' | 'lz4' | 'zst';

export const COMPRESS_TYPES: readonly CompressType[] = ['none', 'gz', 'lz4', 'zst'];

/**
 * Chunks compressed at once on the libuv pool (4 threads by default), while the main thread hashes. Measured on
 * a 16 MiB mixed segment through hash + compress on a shared 2-core machine (load 6-7), median of paired runs
 * against one at a time: zst 1.33x at 2 and 3, lz4 1.23x at 2, gz 1.30x at 3 and 1.48x at 4. 3 is the best
 * overall; memory stays at about 3 x 2 MiB.
 */
export const COMPRESS_CONCURRENCY = 3;

interface TypeInfo {
  readonly extension: '' | '.gz' | '.lz4' | '.zst';
  readonly defaultLevel: number;
  readonly minLevel: number;
  readonly maxLevel: number;
}

/**
 * Level ranges follow pgBackRest's so configurations carry over. lz4-napi offers a single (fast) level, so an lz4
 * level is accepted and checked but has no effect.
 */
const TYPES: Readonly<Record<CompressType, TypeInfo>> = {
  none: { extension: '', defaultLevel: 0, minLevel: 0, maxLevel: 0 },
  gz: { extension: '.gz', defaultLevel: 6, minLevel: 0, maxLevel: 9 },
  lz4: { extension: '.lz4', defaultLevel: 1, minLevel: -5, maxLevel: 12 },
  zst: { extension: '.zst', defaultLevel: 3, minLevel: -7, maxLevel: 22 },
};

export function compressExtension(type: CompressType): '' | '.gz' | '.lz4' | '.zst' {
  return TYPES[type].extension;
}

/** The compression type of a repository file, from its extension ('none' when it has none of ours). */
export function compressTypeOfName(fileName: string): CompressType {
  for (const type of COMPRESS_TYPES) {
    const extension = TYPES[type].extension;
    if (extension !== '' && fileName.endsWith(extension)) return type;
  }
  return 'none';
}

export function defaultCompressLevel(type: CompressType): number {
  return TYPES[type].defaultLevel;
}

/** How a repository file is compressed. */
export interface CompressSettings {
  readonly type: CompressType;
  readonly level: number;
}

/**
 * A function compressing one chunk (at most CHUNK_SIZE bytes) into its own standard frame (gzip member, lz4
 * frame, zstd frame), so that `gunzip`, `lz4 -d` and `zstd -d` read a repository file by hand; an empty chunk
 * (an empty file) still makes one frame, as an empty file is not valid compressed data. The level is checked
 * once, here. 'none' returns the data itself.
 */
export function chunkCompressor(type: CompressType, level: number): (data: Buffer) => Promise<Buffer> {
  checkLevel(type, level);
  const map = type === 'none' ? undefined : compressor(type, level);
  return async (data) => {
    if (data.length > CHUNK_SIZE)
      fail('assert', `chunk compressor: ${data.length} bytes is more than one chunk`);
    return map === undefined ? data : compressUnit(type, map, data, 0);
  };
}

function checkLevel(type: CompressType, level: number): void {
  const info = TYPES[type];
  if (!Number.isInteger(level) || level < info.minLevel || level > info.maxLevel) {
    fail(
      'optionInvalidValue',
      `invalid compress level '${level}' for compress type '${type}': expected ${info.minLevel} to ${info.maxLevel}`,
    );
  }
}

async function compressUnit(
  type: CompressType,
  map: BufferMapper,
  unit: Buffer,
  index: number,
): Promise<Buffer> {
  try {
    return await map(unit);
  } catch (error) {
    throw new PgStashError('assert', `unable to compress ${type} chunk ${index}: ${messageOf(error)}`, {
      cause: error,
    });
  }
}

/** How a loop decodes lz4 or zstd data: frames cut out by `splitter`, each decoded on its own by `decode`. */
export interface FrameDecoding {
  readonly splitter: FrameSplitter;
  /**
   * Invalid data fails with PgStashError('format') naming the frame (`index` counts frames from 0). `length`: the
   * frame's original length when known (lz4 then allocates no more; zstd frames record theirs).
   */
  decode(frame: Buffer, index: number, length?: number): Promise<Buffer>;
}

/**
 * Frame decoding for lz4 or zstd. zstd frames always decode on libuv's pool; lz4 frames on it only with
 * `lz4OnPool` (see frame/lz4-decode.ts for why a long copy keeps lz4 on its own thread).
 */
export function frameDecoding(type: 'lz4' | 'zst', options: { lz4OnPool: boolean }): FrameDecoding {
  const map = (frame: Buffer, length: number | undefined): Promise<Buffer> =>
    type === 'lz4'
      ? decodeLz4Frame(loadLz4(), frame, { onPool: options.lz4OnPool, length })
      : loadZstd().decompress(frame);
  return {
    splitter: new FrameSplitter(type === 'lz4' ? new Lz4FrameScanner() : new ZstdFrameScanner()),
    decode: async (frame, index, length) => {
      try {
        return await map(frame, length);
      } catch (error) {
        throw new PgStashError(
          'format',
          `invalid ${type} data: unable to decompress frame ${index}: ${messageOf(error)}`,
          { cause: error },
        );
      }
    },
  };
}

/** A gunzip stream whose zlib errors are format errors; it reads concatenated gzip members. */
export function createGunzip(): Transform {
  // Larger output pieces than zlib's 16 KiB default: fewer writes downstream.
  return new GunzipFilter({ chunkSize: 256 * 1024 });
}

type BufferMapper = (data: Buffer) => Promise<Buffer>;

const gzip = promisify(zlib.gzip);

function compressor(type: 'gz' | 'lz4' | 'zst', level: number): BufferMapper {
  switch (type) {
    case 'gz':
      return (data) => gzip(data, { level });
    case 'lz4':
      return async (data) => encodeLz4Frame(loadLz4(), data);
    case 'zst':
      return async (data) => loadZstd().compress(data, level);
  }
}

// The native modules load lazily, each on first use: a process only pays for the one it uses.
let lz4Binding: Lz4Binding | undefined;
let zstdBinding: ZstdBinding | undefined;

/** The functions of lz4-napi that the frame encoder and decoder use. */
type Lz4Binding = Lz4BlockEncoder & Lz4BlockDecoder;

/** The native functions of @mongodb-js/zstd (both run on the libuv pool). */
interface ZstdBinding {
  compress(data: Buffer, level: number): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
}

function loadLz4(): Lz4Binding {
  return (lz4Binding ??= loadNative<Lz4Binding>(
    (platform) => `@antoniomuso/lz4-napi-linux-${platform}`,
    'lz4-napi',
  ));
}

/**
 * @mongodb-js/zstd 1.2's index.js wraps the native compress but drops its level argument (every level compresses
 * at 3), so the native binding is used directly; it takes the level, negative ones included.
 */
function loadZstd(): ZstdBinding {
  return (zstdBinding ??= loadNative<ZstdBinding>(
    (platform) => `@mongodb-js/zstd-linux-${platform}`,
    '@mongodb-js/zstd/bindings.js',
  ));
}

/**
 * zlib's gunzip (it reads concatenated gzip members), with zlib's own errors (code Z_DATA_ERROR, Z_BUF_ERROR...)
 * translated to format errors; errors from elsewhere in the pipeline pass unchanged.
 */
class GunzipFilter extends zlib.Gunzip {
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    super._destroy(error, (destroyError) => {
      const code = errnoOf(destroyError);
      callback(
        destroyError instanceof Error && code?.startsWith('Z_') === true
          ? new PgStashError('format', `invalid gz data: ${destroyError.message}`, { cause: destroyError })
          : destroyError,
      );
    });
  }
}
