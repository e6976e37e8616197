// The drill history through the repository model: appended, read back newest last, bounded, encrypted with the stanza.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRILL_HISTORY_MAX, type DrillRecord } from '../../../src/repo/drill-history.js';
import { emptyStanza } from '../../harness/repository.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';

function record(n: number, result = 'ok'): DrillRecord {
  return {
    label: '20261206-170000F',
    started: 1_796_000_000_000 + n * 1000,
    stopped: 1_796_000_000_000 + n * 1000 + 500,
    result,
    code: result === 'ok' ? 0 : 113,
    rtoMs: result === 'ok' ? 1234 : null,
    ...(result === 'ok' ? {} : { message: `drill-query returned 'x' (drill ${n})` }),
  };
}

describe('drill history', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await createTempDir({ label: 'drill-history' });
  });

  afterAll(async () => {
    await removeTempDir(dir);
  });

  it('is empty before any drill, then keeps each record as written, newest last', async () => {
    const repo = await emptyStanza(join(dir, 'plain'));
    expect(await repo.drills.list()).toEqual([]);
    expect(await repo.drills.last()).toBeUndefined();
    await repo.drills.append(record(1));
    await repo.drills.append(record(2, 'drillCheck'));
    expect(await repo.drills.list()).toEqual([record(1), record(2, 'drillCheck')]);
    expect(await repo.drills.last()).toEqual(record(2, 'drillCheck'));
  });

  it(`keeps the newest ${DRILL_HISTORY_MAX}`, async () => {
    const repo = await emptyStanza(join(dir, 'bounded'));
    for (let n = 1; n <= DRILL_HISTORY_MAX + 3; n++) await repo.drills.append(record(n));
    const drills = await repo.drills.list();
    expect(drills).toHaveLength(DRILL_HISTORY_MAX);
    expect(drills[0]).toEqual(record(4));
    expect(drills.at(-1)).toEqual(record(DRILL_HISTORY_MAX + 3));
  });

  it('is encrypted in an encrypted repository, and reads back', async () => {
    const path = join(dir, 'encrypted');
    const repo = await emptyStanza(path, { encrypted: true });
    await repo.drills.append(record(1, 'drillCheck'));
    const stored = await readFile(join(path, 'backup', 'main', 'drill.history'));
    expect(stored.includes(Buffer.from('drill-query returned'))).toBe(false);
    expect(stored.includes(Buffer.from('20261206-170000F'))).toBe(false);
    expect(await repo.drills.last()).toEqual(record(1, 'drillCheck'));
  });
});
