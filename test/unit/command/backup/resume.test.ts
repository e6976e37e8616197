// Tests for resumeMismatch: a leftover is resumed only by a backup that would store its files exactly as it did.
import { describe, expect, it } from 'vitest';
import { resumeMismatch, type ResumeWanted } from '../../../../src/command/backup/resume.js';
import type { ResumableManifest } from '../../../../src/repo/manifest-parse.js';

const db = { id: 1, version: '15', systemId: 7000000000000000001n, catalogVersion: 1, controlVersion: 1 };

const found: ResumableManifest = {
  backup: {
    label: '20261206-101500F',
    type: 'full',
    timestampStart: 1_800_000_000,
    compressType: 'zst',
    compressLevel: 3,
    encrypted: false,
    checksumPage: true,
  },
  db,
  files: [],
};

const wanted: ResumeWanted = {
  type: 'full',
  prior: undefined,
  storage: { compressType: 'zst', compressLevel: 3, cipher: 'none' },
  checksumPage: true,
  db,
};

describe('resumeMismatch', () => {
  it('resumes a leftover of the same kind', () => {
    expect(resumeMismatch(found, wanted)).toBeUndefined();
  });

  it.each([
    ['type', { ...wanted, type: 'incr' as const }, 'it is a full backup, this one is incr'],
    ['prior', { ...wanted, prior: '20261205-101500F' }, 'its prior is none'],
    ['cluster', { ...wanted, db: { ...db, systemId: 1n } }, 'another cluster'],
    [
      'compress-type',
      { ...wanted, storage: { ...wanted.storage, compressType: 'lz4' as const } },
      'compression',
    ],
    ['compress-level', { ...wanted, storage: { ...wanted.storage, compressLevel: 9 } }, 'level 3'],
    ['cipher', { ...wanted, storage: { ...wanted.storage, cipher: 'aes-256-gcm' as const } }, 'cipher'],
    ['page checksums', { ...wanted, checksumPage: false }, 'page checksum'],
  ])('refuses another %s, saying why', (_, other, why) => {
    expect(resumeMismatch(found, other)).toContain(why);
  });
});
