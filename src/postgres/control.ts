// Reads global/pg_control: the cluster's identity, version, WAL geometry and latest checkpoint, CRC-checked.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { errnoOf, fail, messageOf } from '../common/errors.js';
import { versionFromControl } from './version.js';
import { WAL_SEGMENT_SIZE_MAX, WAL_SEGMENT_SIZE_MIN } from './wal-name.js';

/** Cluster state as pg_controldata prints it ("Database cluster state"). */
export type ClusterState =
  | 'starting up'
  | 'shut down'
  | 'shut down in recovery'
  | 'shutting down'
  | 'in crash recovery'
  | 'in archive recovery'
  | 'in production';

// enum DBState, in order (unchanged from 9.4 to 17).
const STATES: readonly ClusterState[] = [
  'starting up',
  'shut down',
  'shut down in recovery',
  'shutting down',
  'in crash recovery',
  'in archive recovery',
  'in production',
];

export interface ControlData {
  pgVersion: string;
  systemId: bigint;
  controlVersion: number;
  catalogVersion: number;
  /** 0 when data checksums are off, otherwise the page checksum version (1). */
  dataChecksumVersion: number;
  walSegmentSize: number;
  /** Data page size (BLCKSZ). */
  blockSize: number;
  /** WAL page size (XLOG_BLCKSZ). */
  walBlockSize: number;
  /** Location of the latest checkpoint record. */
  checkpointLsn: bigint;
  /** Its REDO location: where recovery from that checkpoint starts. */
  checkpointRedoLsn: bigint;
  checkpointTimeline: number;
  /** Time of the latest checkpoint, in seconds since the epoch. */
  checkpointTime: number;
  /** Minimum recovery ending location and its timeline (0/0 and 0 unless in archive recovery). */
  minRecoveryLsn: bigint;
  minRecoveryTimeline: number;
  state: ClusterState;
}

/**
 * Byte offsets of the ControlFileData fields pgstash reads, for x86_64 and other LP64 platforms
 * (8-byte alignment of uint64, int64 and double; 4-byte alignment of uint32, int and enums).
 */
interface ControlLayout {
  systemId: number;
  controlVersion: number;
  catalogVersion: number;
  state: number;
  checkpoint: number;
  redo: number;
  timeline: number;
  checkpointTime: number;
  minRecoveryPoint: number;
  minRecoveryPointTli: number;
  floatFormat: number;
  blockSize: number;
  walBlockSize: number;
  walSegmentSize: number;
  dataChecksumVersion: number;
  /** offsetof(ControlFileData, crc): the CRC-32C covers every byte before it. */
  crc: number;
}

/*
 * ControlFileData in 12 (PG_CONTROL_VERSION 1201), 13-16 (1300) and 17 (1700), from pg_control.h:
 *   0 system_identifier u64 | 8 pg_control_version u32 | 12 catalog_version_no u32 | 16 state enum | 24 time i64
 *  32 checkPoint u64 | 40 checkPointCopy (CheckPoint, 88 bytes):
 *        40 redo u64 | 48 ThisTimeLineID u32 | 52 PrevTimeLineID u32 | 56 fullPageWrites bool
 *        [17 only: 60 wal_level int, in what was padding] | 64 nextXid u64 | 72 nextOid ... 100 oldestMultiDB
 *        | 104 time i64 | 112 oldestCommitTsXid | 116 newestCommitTsXid | 120 oldestActiveXid | pad to 128
 * 128 unloggedLSN u64 | 136 minRecoveryPoint u64 | 144 minRecoveryPointTLI u32 | 152 backupStartPoint u64
 * 160 backupEndPoint u64 | 168 backupEndRequired bool | 172 wal_level int | 176 wal_log_hints bool
 * 180 MaxConnections | 184 max_worker_processes | 188 max_wal_senders | 192 max_prepared_xacts
 * 196 max_locks_per_xact | 200 track_commit_timestamp bool | 204 maxAlign u32 | 208 floatFormat double
 * 216 blcksz | 220 relseg_size | 224 xlog_blcksz | 228 xlog_seg_size | 232 nameDataLen | 236 indexMaxKeys
 * 240 toast_max_chunk_size | 244 loblksize | 248 float8ByVal bool [12: 248 float4ByVal, 249 float8ByVal]
 * 252 data_checksum_version u32 | 256 mock_authentication_nonce[32] | 288 crc u32
 * The 12 -> 13 change (float4ByVal removed) and the 16 -> 17 change (CheckPoint.wal_level added) both happen
 * inside alignment padding, so the offsets are the same; each version still gets its own entry so that a
 * future layout change is one new line.
 */
const LAYOUT_12_TO_17: ControlLayout = {
  systemId: 0,
  controlVersion: 8,
  catalogVersion: 12,
  state: 16,
  checkpoint: 32,
  redo: 40,
  timeline: 48,
  checkpointTime: 104,
  minRecoveryPoint: 136,
  minRecoveryPointTli: 144,
  floatFormat: 208,
  blockSize: 216,
  walBlockSize: 224,
  walSegmentSize: 228,
  dataChecksumVersion: 252,
  crc: 288,
};

const LAYOUTS: ReadonlyMap<number, ControlLayout> = new Map([
  [1201, LAYOUT_12_TO_17],
  [1300, LAYOUT_12_TO_17],
  [1700, LAYOUT_12_TO_17],
]);

/** Offsets of the version fields, the same in every PostgreSQL release ("must be 8 bytes into the file"). */
const CONTROL_VERSION_OFFSET = 8;
const CATALOG_VERSION_OFFSET = 12;

// FLOATFORMAT_VALUE: a different number means another floating-point format or a misread layout.
const FLOAT_FORMAT = 1234567.0;

/** The path of pg_control in the data directory `pgPath`. */
export function controlFilePath(pgPath: string): string {
  return join(pgPath, 'global', 'pg_control');
}

/**
 * Parses a pg_control image (the whole 8 KiB file, or at least the struct). The version comes from the control
 * and catalog versions (unknown ones fail with versionNotSupported, 46); then the CRC-32C is verified and a
 * mismatch fails with fileInvalid (28), as do values no PostgreSQL writes.
 */
export function parseControlFile(buf: Buffer, file = 'pg_control'): ControlData {
  if (buf.length < CATALOG_VERSION_OFFSET + 4) {
    fail('fileInvalid', `pg_control '${file}' is corrupt: only ${buf.length} bytes`);
  }
  const controlVersion = buf.readUInt32LE(CONTROL_VERSION_OFFSET);
  const catalogVersion = buf.readUInt32LE(CATALOG_VERSION_OFFSET);
  const pgVersion = versionFromControl(controlVersion, catalogVersion);
  const layout = LAYOUTS.get(controlVersion);
  if (layout === undefined) fail('assert', `no pg_control layout for control version ${controlVersion}`);

  if (buf.length < layout.crc + 4) {
    fail('fileInvalid', `pg_control '${file}' is corrupt: only ${buf.length} bytes`);
  }
  const stored = buf.readUInt32LE(layout.crc);
  const computed = crc32c(buf.subarray(0, layout.crc));
  if (stored !== computed) {
    fail('fileInvalid', `pg_control '${file}' is corrupt: checksum mismatch`, {
      hint: `stored CRC ${hex(stored)}, computed ${hex(computed)}; restore pg_control from a backup`,
    });
  }

  const stateCode = buf.readUInt32LE(layout.state);
  const state = STATES[stateCode];
  if (state === undefined) fail('fileInvalid', `pg_control '${file}' has unknown cluster state ${stateCode}`);
  if (buf.readDoubleLE(layout.floatFormat) !== FLOAT_FORMAT) {
    fail('fileInvalid', `pg_control '${file}' has an unexpected float format`, {
      hint: 'was the cluster created on another CPU architecture?',
    });
  }
  const walSegmentSize = buf.readUInt32LE(layout.walSegmentSize);
  const blockSize = buf.readUInt32LE(layout.blockSize);
  const walBlockSize = buf.readUInt32LE(layout.walBlockSize);
  if (!isPowerOfTwoIn(walSegmentSize, WAL_SEGMENT_SIZE_MIN, WAL_SEGMENT_SIZE_MAX)) {
    fail('fileInvalid', `pg_control '${file}' has invalid WAL segment size ${walSegmentSize}`);
  }
  // BLCKSZ and XLOG_BLCKSZ are compile-time powers of two from 1 KiB to 32 KiB (64 KiB for WAL).
  if (!isPowerOfTwoIn(blockSize, 1024, 32768) || !isPowerOfTwoIn(walBlockSize, 1024, 65536)) {
    fail('fileInvalid', `pg_control '${file}' has invalid block sizes ${blockSize} and ${walBlockSize}`);
  }

  return {
    pgVersion,
    systemId: buf.readBigUInt64LE(layout.systemId),
    controlVersion,
    catalogVersion,
    dataChecksumVersion: buf.readUInt32LE(layout.dataChecksumVersion),
    walSegmentSize,
    blockSize,
    walBlockSize,
    checkpointLsn: buf.readBigUInt64LE(layout.checkpoint),
    checkpointRedoLsn: buf.readBigUInt64LE(layout.redo),
    checkpointTimeline: buf.readUInt32LE(layout.timeline),
    checkpointTime: Number(buf.readBigInt64LE(layout.checkpointTime)),
    minRecoveryLsn: buf.readBigUInt64LE(layout.minRecoveryPoint),
    minRecoveryTimeline: buf.readUInt32LE(layout.minRecoveryPointTli),
    state,
  };
}

/** Reads and parses `<pgPath>/global/pg_control`. A missing file fails with fileMissing (55). */
export async function readControlFile(pgPath: string): Promise<ControlData> {
  const file = controlFilePath(pgPath);
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (error) {
    const errno = errnoOf(error);
    if (errno === 'ENOENT' || errno === 'ENOTDIR') {
      fail('fileMissing', `unable to open missing file '${file}' for read`, {
        hint: `is pg1-path '${pgPath}' the PostgreSQL data directory?`,
        cause: error,
      });
    }
    if (errno === 'EACCES' || errno === 'EPERM') {
      fail('fileOpen', `unable to open file '${file}' for read: ${messageOf(error)}`, {
        hint: 'run pgstash as the user that owns the data directory (usually postgres)',
        cause: error,
      });
    }
    fail('fileRead', `unable to read file '${file}': ${messageOf(error)}`, { cause: error });
  }
  return parseControlFile(buf, file);
}

function isPowerOfTwoIn(value: number, min: number, max: number): boolean {
  return value >= min && value <= max && (value & (value - 1)) === 0;
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as PostgreSQL's INIT/COMP/FIN_CRC32C compute it.
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C of `data` (PostgreSQL's pg_crc32c over pg_control). */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
