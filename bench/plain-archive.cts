// The archive table's "plain Node" reference: archive-push's and archive-get's data work as straight-line Node.
//
// Why: PostgreSQL starts a process per WAL segment, so each pays Node's start before any work, and pgBackRest's
// whole archive-get costs about as much as `node -e 0` here. This script does only what no implementation of
// either command can skip, with the libraries pgstash uses, as one short CommonJS program: no config, log,
// lock, repository check or chunking. The bench runs it beside both tools, so each report shows what Node plus
// the data work cost by themselves. It is not a lower bound: it does one step after another, where pgstash
// overlaps reading, decoding, hashing and writing on the machine's cores.
//
//   plain-archive.cjs push lz4|zst <segment> <stored>   prints the segment's SHA-256
//   plain-archive.cjs get lz4|zst <stored> <destination> <sha256>
//
// push: read the segment, SHA-256, compress (one frame), write a temp file, fsync it, rename, fsync the
// directory. get: read the stored file, decompress, check the SHA-256, write a temp file, rename (no fsync,
// as pgstash and pgBackRest). Memory is the whole segment: fine for a reference, not for a product.
import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import { compressFrame, decompressFrameSync } from 'lz4-napi';
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** The level both tools use for zst in the bench (bench/tools.ts); lz4-napi's frame encoder has no level. */
const ZSTD_LEVEL = 3;

async function push(type: string, segment: string, stored: string): Promise<void> {
  const data = readFileSync(segment);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const compressed = type === 'lz4' ? await compressFrame(data) : await zstdCompress(data, ZSTD_LEVEL);
  const temp = `${stored}.tmp`;
  const fd = openSync(temp, 'w', 0o640);
  for (let done = 0; done < compressed.length;) done += writeSync(fd, compressed, done);
  fsyncSync(fd);
  closeSync(fd);
  renameSync(temp, stored);
  const dir = openSync(dirname(stored), 'r');
  fsyncSync(dir);
  closeSync(dir);
  process.stdout.write(`${sha256}\n`);
}

async function get(type: string, stored: string, destination: string, sha256: string): Promise<void> {
  const data = readFileSync(stored);
  const plain = type === 'lz4' ? decompressFrameSync(data) : await zstdDecompress(data);
  const actual = createHash('sha256').update(plain).digest('hex');
  if (actual !== sha256) throw new Error(`'${stored}' decodes to SHA-256 ${actual}, expected ${sha256}`);
  const temp = `${destination}.tmp`;
  writeFileSync(temp, plain, { mode: 0o600 });
  renameSync(temp, destination);
}

const [operation, type, input, output, sha256] = process.argv.slice(2);
if (
  input === undefined ||
  output === undefined ||
  (type !== 'lz4' && type !== 'zst') ||
  !(operation === 'push' || (operation === 'get' && sha256 !== undefined))
) {
  process.stderr.write(
    'usage: plain-archive.cjs push lz4|zst <segment> <stored> | get lz4|zst <stored> <destination> <sha256>\n',
  );
  process.exit(2);
}
(operation === 'push' ? push(type, input, output) : get(type, input, output, sha256 ?? '')).catch(
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
