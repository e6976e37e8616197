// Tests for prior selection: diff on the newest full, incr on the newest backup, a full (with the reason) when no
// full of the current cluster exists or the cipher changed.
import { describe, expect, it } from 'vitest';
import { selectPrior } from '../../../../src/command/backup/prior.js';
import type { BackupInfo, BackupRecord, BackupType } from '../../../../src/repo/backup-info.js';

const DB1 = { id: 1, version: '14', systemId: 7n, catalogVersion: 202107181, controlVersion: 1300 };
const DB2 = { id: 2, version: '15', systemId: 8n, catalogVersion: 202209061, controlVersion: 1300 };

function record(label: string, type: BackupType, options: { dbId?: number; encrypted?: boolean } = {}) {
  return {
    label,
    type,
    timestampStart: 1,
    timestampStop: 2,
    lsnStart: '0/2000028',
    lsnStop: '0/2000100',
    walStart: '000000010000000000000002',
    walStop: '000000010000000000000002',
    compressType: 'zst',
    encrypted: options.encrypted ?? false,
    archiveCopy: false,
    dbId: options.dbId ?? 2,
    size: 10,
    repoSize: 5,
    fileCount: 1,
    pageChecksumErrors: 0,
  } satisfies BackupRecord;
}

function info(backups: BackupRecord[]): BackupInfo {
  return { current: DB2, history: [DB1, DB2], backups };
}

const F1 = record('20261201-000000F', 'full');
const I1 = record('20261201-000000F_20261202-000000I', 'incr');
const D1 = record('20261201-000000F_20261203-000000D', 'diff');
const I2 = record('20261201-000000F_20261204-000000I', 'incr');
const PLAIN = { encrypted: false };

describe('selectPrior', () => {
  it('takes a full as asked, with no prior', () => {
    expect(selectPrior('full', info([F1, I1]), PLAIN)).toEqual({ type: 'full', prior: undefined });
  });

  it('builds a diff on the newest full and an incr on the newest backup of any type', () => {
    const chain = info([F1, I1, D1, I2]);
    expect(selectPrior('diff', chain, PLAIN).prior?.label).toBe(F1.label);
    expect(selectPrior('incr', chain, PLAIN).prior?.label).toBe(I2.label);
    expect(selectPrior('incr', info([F1, I1, D1]), PLAIN).prior?.label).toBe(D1.label);
  });

  it('a diff after a newer full builds on that full', () => {
    const F2 = record('20261205-000000F', 'full');
    expect(selectPrior('diff', info([F1, I1, F2]), PLAIN).prior?.label).toBe(F2.label);
  });

  it('becomes a full, saying why, when no backup exists', () => {
    for (const type of ['diff', 'incr'] as const) {
      const selection = selectPrior(type, info([]), PLAIN);
      expect(selection).toMatchObject({
        type: 'full',
        prior: undefined,
        fullBecause: 'no prior backup exists',
      });
    }
  });

  it('never builds on a backup of another cluster (db history id)', () => {
    const old = [
      record('20261101-000000F', 'full', { dbId: 1 }),
      record('20261101-000000F_20261102-000000I', 'incr', { dbId: 1 }),
    ];
    const selection = selectPrior('incr', info(old), PLAIN);
    expect(selection.type).toBe('full');
    expect(selection.fullBecause).toMatch(
      /no prior full backup of the current cluster.*2 of another cluster/,
    );
    // A backup of this cluster after the upgrade is a base; the older cluster's incr after it is not.
    const F2 = record('20261203-000000F', 'full');
    const mixed = info([...old, F2, record('20261101-000000F_20261204-000000I', 'incr', { dbId: 1 })]);
    expect(selectPrior('incr', mixed, PLAIN).prior?.label).toBe(F2.label);
  });

  it('a cipher change forces a full', () => {
    const selection = selectPrior('incr', info([F1, I1]), { encrypted: true });
    expect(selection.type).toBe('full');
    expect(selection.fullBecause).toMatch(/prior backup .*I is not encrypted.*cipher changed/);
    const encrypted = info([record('20261201-000000F', 'full', { encrypted: true })]);
    expect(selectPrior('diff', encrypted, PLAIN).type).toBe('full');
    expect(selectPrior('diff', encrypted, { encrypted: true }).type).toBe('diff');
  });
});
