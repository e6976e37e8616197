// Tests for WAL file names: segment arithmetic at every segment size across the xlogid boundary, and name kinds.
import { errorOf } from '../../harness/errors.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { isPgStashError } from '../../../src/common/errors.js';
import { parseLsn } from '../../../src/postgres/lsn.js';
import {
  assertWalSegmentSize,
  backupHistoryFileName,
  isWalSegmentName,
  lsnToPrevSegmentNumber,
  lsnToSegmentNumber,
  nextSegment,
  parseWalFileName,
  segmentNumberOfName,
  segmentNumberToLsn,
  segmentsBetween,
  segmentsPerXLogId,
  timelineHistoryFileName,
  timelineOfName,
  walSegmentDirectory,
  walSegmentName,
  walSegmentNameFromNumber,
} from '../../../src/postgres/wal-name.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('segment names', () => {
  it('names the segment holding an LSN (16 MiB)', () => {
    expect(walSegmentName(1, parseLsn('16/B374D848'), 16 * MiB)).toBe('0000000100000016000000B3');
    expect(walSegmentName(1, 0n, 16 * MiB)).toBe('000000010000000000000000');
    expect(walSegmentName(0x1a, parseLsn('0/1FFFFFF'), 16 * MiB)).toBe('0000001A0000000000000001');
    expect(walSegmentName(0xffffffff, parseLsn('FFFFFFFF/FFFFFFFF'), 16 * MiB)).toBe(
      'FFFFFFFFFFFFFFFF000000FF',
    );
  });

  it.each([
    // segSize, segments per xlogid, last segment of xlogid 0, LSN of its last byte
    [16 * MiB, 256n, '0000000100000000000000FF', '0/FFFFFFFF'],
    [1 * MiB, 4096n, '000000010000000000000FFF', '0/FFFFFFFF'],
    [64 * MiB, 64n, '00000001000000000000003F', '0/FFFFFFFF'],
    [1 * GiB, 4n, '000000010000000000000003', '0/FFFFFFFF'],
  ])('crosses the xlogid boundary with %i-byte segments', (segSize, perId, lastOfId0, lastLsn) => {
    expect(segmentsPerXLogId(segSize)).toBe(perId);
    expect(walSegmentName(1, parseLsn(lastLsn), segSize)).toBe(lastOfId0);
    expect(walSegmentName(1, parseLsn('1/0'), segSize)).toBe('000000010000000100000000');
    expect(nextSegment(lastOfId0, segSize)).toBe('000000010000000100000000');
    expect(nextSegment('000000010000000100000000', segSize)).toBe('000000010000000100000001');
    expect(segmentNumberOfName(lastOfId0, segSize)).toBe(perId - 1n);
    expect(segmentNumberOfName('000000010000000100000000', segSize)).toBe(perId);
    // One past the last segment of an xlogid is no name at this size.
    const beyond = `0000000100000000${perId.toString(16).toUpperCase().padStart(8, '0')}`;
    expect(
      isPgStashError(
        errorOf(() => segmentNumberOfName(beyond, segSize)),
        'paramInvalid',
      ),
    ).toBe(true);
  });

  it('computes 1 GiB segment names in the middle of an xlogid', () => {
    expect(walSegmentName(2, parseLsn('1/40000000'), GiB)).toBe('000000020000000100000001');
    expect(walSegmentName(2, parseLsn('1/BFFFFFFF'), GiB)).toBe('000000020000000100000002');
    expect(segmentNumberToLsn(segmentNumberOfName('000000020000000100000002', GiB), GiB)).toBe(
      parseLsn('1/80000000'),
    );
  });

  it('is the inverse of segmentNumberOfName at any segment size', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 20, max: 30 }),
        fc.integer({ min: 1, max: 0xffffffff }),
        fc.bigInt({ min: 0n, max: 0xffffffffn }),
        fc.bigInt({ min: 0n, max: 4095n }),
        (shift, timeline, logNo, within) => {
          const segSize = 2 ** shift;
          const perId = segmentsPerXLogId(segSize);
          const number = logNo * perId + (within % perId);
          const name = walSegmentNameFromNumber(timeline, number, segSize);
          expect(isWalSegmentName(name)).toBe(true);
          expect(segmentNumberOfName(name, segSize)).toBe(number);
          expect(timelineOfName(name)).toBe(timeline);
          expect(walSegmentDirectory(name)).toBe(name.slice(0, 16));
          if (number + 1n < 0x100000000n * perId) {
            expect(segmentNumberOfName(nextSegment(name, segSize), segSize)).toBe(number + 1n);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('names the segment whose byte range holds the LSN', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 20, max: 30 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (shift, lsn) => {
          const segSize = 2 ** shift;
          const start = segmentNumberToLsn(
            segmentNumberOfName(walSegmentName(3, lsn, segSize), segSize),
            segSize,
          );
          expect(start <= lsn && lsn < start + BigInt(segSize)).toBe(true);
          expect(lsnToSegmentNumber(lsn, segSize)).toBe(start / BigInt(segSize));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('takes the previous segment for an end-of-record LSN on a boundary', () => {
    expect(lsnToPrevSegmentNumber(parseLsn('0/3000000'), 16 * MiB)).toBe(2n);
    expect(lsnToPrevSegmentNumber(parseLsn('0/3000001'), 16 * MiB)).toBe(3n);
    expect(
      isPgStashError(
        errorOf(() => lsnToPrevSegmentNumber(0n, 16 * MiB)),
        'paramInvalid',
      ),
    ).toBe(true);
  });

  it.each([0, 3 * MiB, MiB / 2, 2 * GiB, 16 * MiB + 1, Number.NaN])('refuses segment size %d', (segSize) => {
    expect(
      isPgStashError(
        errorOf(() => assertWalSegmentSize(segSize)),
        'paramInvalid',
      ),
    ).toBe(true);
    expect(
      isPgStashError(
        errorOf(() => walSegmentName(1, 0n, segSize)),
        'paramInvalid',
      ),
    ).toBe(true);
  });

  it('refuses timelines outside 1 to 0xFFFFFFFF', () => {
    expect(
      isPgStashError(
        errorOf(() => walSegmentName(0, 0n, 16 * MiB)),
        'paramInvalid',
      ),
    ).toBe(true);
    expect(
      isPgStashError(
        errorOf(() => walSegmentName(2 ** 32, 0n, 16 * MiB)),
        'paramInvalid',
      ),
    ).toBe(true);
  });

  it('names history and backup history files', () => {
    expect(timelineHistoryFileName(2)).toBe('00000002.history');
    expect(timelineHistoryFileName(0xab)).toBe('000000AB.history');
    expect(backupHistoryFileName(1, parseLsn('0/2000028'), 16 * MiB)).toBe(
      '000000010000000000000002.00000028.backup',
    );
    expect(backupHistoryFileName(1, parseLsn('1/00A00060'), MiB)).toBe(
      '00000001000000010000000A.00000060.backup',
    );
  });
});

describe('segmentsBetween', () => {
  const seg = 16 * MiB;

  it('lists every segment from start to the one holding the byte before stop', () => {
    expect(segmentsBetween(1, parseLsn('0/1000028'), parseLsn('0/3000000'), seg)).toEqual([
      '000000010000000000000001',
      '000000010000000000000002',
    ]);
    expect(segmentsBetween(1, parseLsn('0/1000028'), parseLsn('0/3000001'), seg)).toEqual([
      '000000010000000000000001',
      '000000010000000000000002',
      '000000010000000000000003',
    ]);
    expect(segmentsBetween(1, parseLsn('0/1000028'), parseLsn('0/1000100'), seg)).toEqual([
      '000000010000000000000001',
    ]);
  });

  it('gives the start segment alone when stop equals start', () => {
    expect(segmentsBetween(1, parseLsn('0/2000000'), parseLsn('0/2000000'), seg)).toEqual([
      '000000010000000000000002',
    ]);
    expect(segmentsBetween(1, 0n, 0n, seg)).toEqual(['000000010000000000000000']);
  });

  it('crosses the xlogid boundary', () => {
    expect(segmentsBetween(5, parseLsn('0/FE000060'), parseLsn('1/01000010'), seg)).toEqual([
      '0000000500000000000000FE',
      '0000000500000000000000FF',
      '000000050000000100000000',
      '000000050000000100000001',
    ]);
    expect(segmentsBetween(2, parseLsn('0/BFFFFF00'), parseLsn('1/40000000'), GiB)).toEqual([
      '000000020000000000000002',
      '000000020000000000000003',
      '000000020000000100000000',
    ]);
  });

  it('refuses a stop before the start', () => {
    const error = errorOf(() => segmentsBetween(1, parseLsn('0/3000000'), parseLsn('0/2000000'), seg));
    expect(isPgStashError(error, 'paramInvalid')).toBe(true);
    expect((error as Error).message).toContain("'0/2000000'");
  });
});

describe('parseWalFileName', () => {
  it('recognises a segment', () => {
    expect(parseWalFileName('0000000100000016000000B3')).toEqual({
      kind: 'segment',
      name: '0000000100000016000000B3',
      timeline: 1,
      logNo: 0x16,
      segNo: 0xb3,
    });
  });

  it('recognises a partial segment', () => {
    expect(parseWalFileName('000000010000000000000005.partial')).toEqual({
      kind: 'partial',
      name: '000000010000000000000005.partial',
      segment: '000000010000000000000005',
      timeline: 1,
      logNo: 0,
      segNo: 5,
    });
  });

  it('recognises a backup history file', () => {
    expect(parseWalFileName('000000010000000000000002.00000028.backup')).toEqual({
      kind: 'backup',
      name: '000000010000000000000002.00000028.backup',
      segment: '000000010000000000000002',
      timeline: 1,
      logNo: 0,
      segNo: 2,
      offset: 0x28,
    });
  });

  it('recognises a timeline history file', () => {
    expect(parseWalFileName('00000002.history')).toEqual({
      kind: 'history',
      name: '00000002.history',
      timeline: 2,
    });
    expect(parseWalFileName('FFFFFFFF.history')).toEqual({
      kind: 'history',
      name: 'FFFFFFFF.history',
      timeline: 0xffffffff,
    });
  });

  it.each([
    '0000000100000016000000b3', // lower-case hex
    '00000001000000160000000B3', // 25 characters
    '00000001000000160000B3', // 22 characters
    '0000000100000016000000G3',
    '000000010000000000000005.partial.tmp',
    '000000010000000000000005.PARTIAL',
    '000000010000000000000005.partia',
    '000000010000000000000005.tmp',
    '000000010000000000000002.00000028',
    '000000010000000000000002.0000028.backup',
    '000000010000000000000002.0000002a.backup',
    '000000010000000000000002.00000028.backup.tmp',
    '0000002.history',
    '00000002.History',
    '00000002.history.tmp',
    '0000000g.history',
    ' 000000010000000000000005',
    '000000010000000000000005\n',
    'pg_wal/000000010000000000000005',
    'archive_status',
    '',
  ])('refuses the near miss %j', (name) => {
    expect(parseWalFileName(name)).toBeUndefined();
  });

  it('has no directory or segment number for names that are not segments', () => {
    expect(
      isPgStashError(
        errorOf(() => walSegmentDirectory('00000002.history')),
        'paramInvalid',
      ),
    ).toBe(true);
    expect(
      isPgStashError(
        errorOf(() => nextSegment('00000002.history', 16 * MiB)),
        'paramInvalid',
      ),
    ).toBe(true);
    expect(
      isPgStashError(
        errorOf(() => timelineOfName('x')),
        'paramInvalid',
      ),
    ).toBe(true);
    expect(walSegmentDirectory('000000010000000000000005.partial')).toBe('0000000100000000');
    expect(walSegmentDirectory('000000010000000000000002.00000028.backup')).toBe('0000000100000000');
    expect(timelineOfName('0000000A.history')).toBe(10);
  });
});
