// Reads the long page header at the start of a WAL segment: which cluster, version, timeline and position it is.
import { fail } from '../common/errors.js';
import { formatLsn } from './lsn.js';
import { versionFromWalMagic } from './version.js';
import { WAL_SEGMENT_SIZE_MAX, WAL_SEGMENT_SIZE_MIN } from './wal-name.js';

export interface WalSegmentHeader {
  /** xlp_magic: XLOG_PAGE_MAGIC of the PostgreSQL version that wrote the segment. */
  magic: number;
  /** The major version of that magic, or undefined for a version pgstash does not know (older or newer). */
  pgVersion: string | undefined;
  /** xlp_tli: timeline of the first record on the page. */
  timeline: number;
  /** xlp_pageaddr: WAL position of the segment's first byte. */
  pageAddress: bigint;
  /** xlp_sysid: the cluster's system identifier (as in pg_control). */
  systemId: bigint;
  /** xlp_seg_size and xlp_xlog_blcksz. */
  segmentSize: number;
  blockSize: number;
}

/**
 * XLogLongPageHeaderData (unchanged from 9.3 to 17), little-endian with LP64 alignment:
 *   0 xlp_magic u16 | 2 xlp_info u16 | 4 xlp_tli u32 | 8 xlp_pageaddr u64 | 16 xlp_rem_len u32 | pad
 *  24 xlp_sysid u64 | 32 xlp_seg_size u32 | 36 xlp_xlog_blcksz u32      (SizeOfXLogLongPHD = 40)
 */
export const WAL_LONG_HEADER_SIZE = 40;
const XLP_LONG_HEADER = 0x0002;
// XLP_ALL_FLAGS: XLP_FIRST_IS_CONTRECORD | XLP_LONG_HEADER | XLP_BKP_REMOVABLE.
const XLP_ALL_FLAGS = 0x0007;

/**
 * Parses the header of a WAL segment from its first bytes (at least 40). `file` names the file in messages.
 * Anything that is not the long header PostgreSQL writes at the start of a segment fails with fileInvalid (28):
 * too short, not a long header, a magic that is no XLOG_PAGE_MAGIC, impossible sizes, or a page address that
 * is not the start of a segment. A well-formed header from a PostgreSQL version pgstash does not know parses
 * with pgVersion undefined: the caller decides (archive-push refuses it).
 */
export function readWalSegmentHeader(buf: Buffer, file = 'WAL segment'): WalSegmentHeader {
  const invalid: (reason: string) => never = (reason) =>
    fail('fileInvalid', `WAL file '${file}' has an invalid header: ${reason}`, {
      hint: 'is this a WAL segment written by PostgreSQL?',
    });
  if (buf.length < WAL_LONG_HEADER_SIZE) invalid(`only ${buf.length} bytes`);

  const magic = buf.readUInt16LE(0);
  const info = buf.readUInt16LE(2);
  // Every XLOG_PAGE_MAGIC since 8.x is 0xD0xx or 0xD1xx; anything else is not WAL (or is another byte order).
  if (magic < 0xd000 || magic > 0xd1ff)
    invalid(`magic 0x${magic.toString(16).toUpperCase()} is not a WAL page magic`);
  if ((info & XLP_LONG_HEADER) === 0) invalid('not a long page header (is it the start of a segment?)');
  if ((info & ~XLP_ALL_FLAGS) !== 0) invalid(`unknown page flags 0x${info.toString(16)}`);

  const segmentSize = buf.readUInt32LE(32);
  const blockSize = buf.readUInt32LE(36);
  if (!isPowerOfTwoIn(segmentSize, WAL_SEGMENT_SIZE_MIN, WAL_SEGMENT_SIZE_MAX)) {
    invalid(`segment size ${segmentSize} is not a power of two from 1 MiB to 1 GiB`);
  }
  if (!isPowerOfTwoIn(blockSize, 1024, 65536)) invalid(`block size ${blockSize} is not a power of two`);

  const pageAddress = buf.readBigUInt64LE(8);
  if (pageAddress % BigInt(segmentSize) !== 0n) {
    invalid(`page address ${formatLsn(pageAddress)} is not the start of a segment`);
  }
  const timeline = buf.readUInt32LE(4);
  if (timeline === 0) invalid('timeline 0');

  return {
    magic,
    pgVersion: versionFromWalMagic(magic),
    timeline,
    pageAddress,
    systemId: buf.readBigUInt64LE(24),
    segmentSize,
    blockSize,
  };
}

function isPowerOfTwoIn(value: number, min: number, max: number): boolean {
  return value >= min && value <= max && (value & (value - 1)) === 0;
}
