// WAL file names: segment name arithmetic for any segment size, and recognising every kind of archived WAL file.
import { fail } from '../common/errors.js';
import { formatLsn } from './lsn.js';

/** Smallest and largest WAL segment sizes PostgreSQL allows (initdb --wal-segsize, a power of two). */
export const WAL_SEGMENT_SIZE_MIN = 1024 * 1024;
export const WAL_SEGMENT_SIZE_MAX = 1024 * 1024 * 1024;
/** The default segment size (16 MiB). */
export const WAL_SEGMENT_SIZE_DEFAULT = 16 * 1024 * 1024;

/** A file name as found in pg_wal or in the archive; see parseWalFileName. */
export type WalFileName =
  /** A WAL segment: 000000010000000000000005. */
  | { kind: 'segment'; name: string; timeline: number; logNo: number; segNo: number }
  /** An incomplete segment left at promotion: 000000010000000000000005.partial. */
  | { kind: 'partial'; name: string; segment: string; timeline: number; logNo: number; segNo: number }
  /** A backup history file: 000000010000000000000002.00000028.backup (offset of the start LSN in the segment). */
  | {
      kind: 'backup';
      name: string;
      segment: string;
      timeline: number;
      logNo: number;
      segNo: number;
      offset: number;
    }
  /** A timeline history file: 00000002.history. */
  | { kind: 'history'; name: string; timeline: number };

// Upper-case hex only: PostgreSQL writes these names with %08X, and IsXLogFileName accepts nothing else.
const HEX8 = '([0-9A-F]{8})';
const SEGMENT = new RegExp(`^${HEX8}${HEX8}${HEX8}$`);
const PARTIAL = new RegExp(`^${HEX8}${HEX8}${HEX8}\\.partial$`);
const BACKUP = new RegExp(`^${HEX8}${HEX8}${HEX8}\\.${HEX8}\\.backup$`);
const HISTORY = new RegExp(`^${HEX8}\\.history$`);

function hex8(value: number | bigint): string {
  return value.toString(16).toUpperCase().padStart(8, '0');
}

function fromHex(text: string | undefined): number {
  return Number.parseInt(text ?? '', 16);
}

/** Fails with paramInvalid unless `segSize` is a power of two from 1 MiB to 1 GiB. */
export function assertWalSegmentSize(segSize: number): void {
  const valid =
    Number.isInteger(segSize) &&
    segSize >= WAL_SEGMENT_SIZE_MIN &&
    segSize <= WAL_SEGMENT_SIZE_MAX &&
    (segSize & (segSize - 1)) === 0;
  if (!valid) {
    fail('paramInvalid', `invalid WAL segment size '${segSize}'`, {
      hint: 'the WAL segment size is a power of two from 1 MiB to 1 GiB',
    });
  }
}

/**
 * Segments per "xlogid" (the middle 8 hex digits): 0x100000000 / segSize, as in XLogSegmentsPerXLogId.
 * With 16 MiB segments the last 8 hex digits count 00000000 to 000000FF, then the middle part increments.
 */
export function segmentsPerXLogId(segSize: number): bigint {
  assertWalSegmentSize(segSize);
  return 0x100000000n / BigInt(segSize);
}

/** The absolute segment number holding byte `lsn` (XLByteToSeg). */
export function lsnToSegmentNumber(lsn: bigint, segSize: number): bigint {
  assertWalSegmentSize(segSize);
  return lsn / BigInt(segSize);
}

/** The absolute segment number holding the byte just before `lsn` (XLByteToPrevSeg): for end-of-record LSNs. */
export function lsnToPrevSegmentNumber(lsn: bigint, segSize: number): bigint {
  assertWalSegmentSize(segSize);
  if (lsn === 0n) fail('paramInvalid', "LSN '0/0' has no previous segment");
  return (lsn - 1n) / BigInt(segSize);
}

/** The LSN of the first byte of an absolute segment number. */
export function segmentNumberToLsn(segmentNumber: bigint, segSize: number): bigint {
  assertWalSegmentSize(segSize);
  return segmentNumber * BigInt(segSize);
}

/** The name of absolute segment `segmentNumber` on `timeline` (XLogFileName). */
export function walSegmentNameFromNumber(timeline: number, segmentNumber: bigint, segSize: number): string {
  const perId = segmentsPerXLogId(segSize);
  const logNo = segmentNumber / perId;
  if (segmentNumber < 0n || logNo > 0xffffffffn) {
    fail('paramInvalid', `WAL segment number '${segmentNumber}' is out of range`);
  }
  assertTimeline(timeline);
  return `${hex8(timeline)}${hex8(logNo)}${hex8(segmentNumber % perId)}`;
}

/** The name of the segment on `timeline` that holds byte `lsn`: (1, 0x16B374D848, 16 MiB) -> 0000000100000016000000B3. */
export function walSegmentName(timeline: number, lsn: bigint, segSize: number): string {
  return walSegmentNameFromNumber(timeline, lsnToSegmentNumber(lsn, segSize), segSize);
}

/** Timeline history file name: 00000002.history. */
export function timelineHistoryFileName(timeline: number): string {
  assertTimeline(timeline);
  return `${hex8(timeline)}.history`;
}

/** Backup history file name for a backup starting at `startLsn`: 000000010000000000000002.00000028.backup. */
export function backupHistoryFileName(timeline: number, startLsn: bigint, segSize: number): string {
  const segment = walSegmentName(timeline, startLsn, segSize);
  return `${segment}.${hex8(startLsn % BigInt(segSize))}.backup`;
}

function assertTimeline(timeline: number): void {
  if (!Number.isInteger(timeline) || timeline < 1 || timeline > 0xffffffff) {
    fail('paramInvalid', `invalid timeline '${timeline}'`);
  }
}

/**
 * What kind of WAL file `name` is (a bare file name, no directory), or undefined for anything else.
 * Only the exact forms PostgreSQL writes match: upper-case hex, exact lengths, nothing appended
 * ('...0005.partial.tmp' is not a WAL file).
 */
export function parseWalFileName(name: string): WalFileName | undefined {
  let match = SEGMENT.exec(name);
  if (match !== null) {
    return {
      kind: 'segment',
      name,
      timeline: fromHex(match[1]),
      logNo: fromHex(match[2]),
      segNo: fromHex(match[3]),
    };
  }
  match = PARTIAL.exec(name);
  if (match !== null) {
    return {
      kind: 'partial',
      name,
      segment: name.slice(0, 24),
      timeline: fromHex(match[1]),
      logNo: fromHex(match[2]),
      segNo: fromHex(match[3]),
    };
  }
  match = BACKUP.exec(name);
  if (match !== null) {
    return {
      kind: 'backup',
      name,
      segment: name.slice(0, 24),
      timeline: fromHex(match[1]),
      logNo: fromHex(match[2]),
      segNo: fromHex(match[3]),
      offset: fromHex(match[4]),
    };
  }
  match = HISTORY.exec(name);
  if (match !== null) return { kind: 'history', name, timeline: fromHex(match[1]) };
  return undefined;
}

/** Whether `name` is a plain WAL segment name (24 upper-case hex digits). */
export function isWalSegmentName(name: string): boolean {
  return SEGMENT.test(name);
}

function parseSegment(name: string): { timeline: number; logNo: number; segNo: number } {
  const parsed = parseWalFileName(name);
  if (parsed === undefined || parsed.kind === 'history') {
    fail('paramInvalid', `'${name}' is not a WAL segment name`);
  }
  return parsed;
}

/**
 * The absolute segment number of a segment, partial or backup file name. The last 8 hex digits must be below
 * segmentsPerXLogId(segSize): 000000010000000000000100 exists with 1 MiB segments but not with 16 MiB ones.
 */
export function segmentNumberOfName(name: string, segSize: number): bigint {
  const { logNo, segNo } = parseSegment(name);
  const perId = segmentsPerXLogId(segSize);
  if (BigInt(segNo) >= perId) {
    fail('paramInvalid', `'${name}' is not a valid WAL segment name for ${segSize}-byte segments`);
  }
  return BigInt(logNo) * perId + BigInt(segNo);
}

/** The timeline of a segment, partial, backup or history file name. */
export function timelineOfName(name: string): number {
  const parsed = parseWalFileName(name);
  if (parsed === undefined) fail('paramInvalid', `'${name}' is not a WAL file name`);
  return parsed.timeline;
}

/** The segment after `name` on the same timeline: 0000000100000000000000FF -> 000000010000000100000000 (16 MiB). */
export function nextSegment(name: string, segSize: number): string {
  return walSegmentNameFromNumber(timelineOfName(name), segmentNumberOfName(name, segSize) + 1n, segSize);
}

/**
 * Every segment a backup needs, in order: from the segment holding `startLsn` to the segment holding the last
 * byte before `stopLsn`.
 *
 * PostgreSQL's stop LSN is the end of the backup-end record (the next insert position), so a stop LSN exactly
 * on a segment boundary belongs to the previous segment: this is what pg_backup_stop waits to see archived
 * (XLByteToPrevSeg) and what pg_walfile_name(stop_lsn) returns. pgBackRest takes the stop segment at face value
 * (stopLsn / segSize), which can add one segment more; that segment exists too (PostgreSQL switches WAL right
 * after the backup-end record) but the backup does not need it. A stop LSN equal to the start LSN yields the
 * start segment alone.
 */
export function segmentsBetween(
  timeline: number,
  startLsn: bigint,
  stopLsn: bigint,
  segSize: number,
): string[] {
  if (stopLsn < startLsn) {
    fail(
      'paramInvalid',
      `WAL stop position '${formatLsn(stopLsn)}' is before start position '${formatLsn(startLsn)}'`,
    );
  }
  const first = lsnToSegmentNumber(startLsn, segSize);
  const stopSegment = stopLsn === 0n ? 0n : lsnToPrevSegmentNumber(stopLsn, segSize);
  const last = stopSegment > first ? stopSegment : first;
  const names: string[] = [];
  for (let segment = first; segment <= last; segment++) {
    names.push(walSegmentNameFromNumber(timeline, segment, segSize));
  }
  return names;
}

/**
 * The archive sub-directory of a segment, partial or backup file: its timeline and xlogid, the first 16 hex digits
 * (0000000100000016 for 0000000100000016000000B3). History files have none (they live in the archive root).
 */
export function walSegmentDirectory(name: string): string {
  parseSegment(name);
  return name.slice(0, 16);
}
