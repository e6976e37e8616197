// Tests for the new backup's label: it names the second of the call (the earliest start copy-start.ts may pick),
// and is later than every label before it (a time zone change or clock skew is clock, 106).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLabel } from '../../../../src/command/backup/label.js';
import { isPgStashError } from '../../../../src/common/errors.js';
import type { BackupInfo } from '../../../../src/repo/backup-info.js';
import { backupLabel } from '../../../../src/repo/label.js';
import type { Repository } from '../../../../src/repo/repository.js';
import { emptyStanza, TEST_DB } from '../../../harness/repository.js';

let root: string;
let repo: Repository;
const info = { ...TEST_DB, backups: [] } as unknown as BackupInfo;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'pgstash-label-'));
  repo = await emptyStanza(join(root, 'repo'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('createLabel', () => {
  it('names the second of the call', async () => {
    const called = Date.now();
    const { label, started } = await createLabel(repo, 'full', info, undefined, []);
    expect(started.getTime() % 1000).toBe(0);
    expect(started.getTime()).toBeLessThanOrEqual(called);
    expect(called - started.getTime()).toBeLessThan(1000);
    expect(label).toBe(backupLabel('full', started));
  });

  it('never reuses a label listed in backup.info: takes the next second', async () => {
    const first = await createLabel(repo, 'full', info, undefined, []);
    const listed = { ...info, backups: [{ label: first.label }] } as unknown as BackupInfo;
    const second = await createLabel(repo, 'full', listed, undefined, []);
    expect(second.label).not.toBe(first.label);
    expect(second.started.getTime() % 1000).toBe(0);
  });

  const withLabels = (...labels: string[]): BackupInfo =>
    ({ ...info, backups: labels.map((label) => ({ label })) }) as unknown as BackupInfo;
  const hourAhead = (): Date => new Date(Date.now() + 3600_000);

  it('refuses a label not later than the latest of its full set: clock (106), naming both', async () => {
    const full = backupLabel('full', new Date(Date.now() - 3600_000));
    const later = backupLabel('incr', hourAhead(), full);
    const error = await createLabel(repo, 'incr', withLabels(full, later), full, []).catch(
      (caught: unknown) => caught,
    );
    expect(isPgStashError(error, 'clock')).toBe(true);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^new backup label '${full}_\\d{8}-\\d{6}I' is not later than latest backup label '${later}'$`,
      ),
    );
  });

  it("a later label in another full's set holds back neither an incr of an older set nor a full", async () => {
    const older = backupLabel('full', new Date(Date.now() - 7200_000));
    const newer = backupLabel('full', new Date(Date.now() - 3600_000));
    const laterInNewer = backupLabel('incr', hourAhead(), newer);
    const incr = await createLabel(repo, 'incr', withLabels(older, newer, laterInNewer), older, []);
    expect(incr.label.startsWith(`${older}_`)).toBe(true);
    // A full sorts by its own time: an incr of the newest set taken later does not hold it back.
    const full = await createLabel(repo, 'full', withLabels(older, newer, laterInNewer), undefined, []);
    expect(full.label > newer).toBe(true);
  });

  it('a directory a killed backup left counts as a label before the new one', async () => {
    const ahead = backupLabel('full', hourAhead());
    await mkdir(join(root, 'repo', 'backup', 'main', ahead));
    const leftover = await repo.backups.incomplete(info);
    expect(leftover).toEqual([ahead]);
    const error = await createLabel(repo, 'full', info, undefined, leftover).catch(
      (caught: unknown) => caught,
    );
    expect(isPgStashError(error, 'clock')).toBe(true);
  });

  it("an expired backup's history manifest counts as a label before the new one", async () => {
    const ahead = backupLabel('full', hourAhead());
    const year = join(root, 'repo', 'backup', 'main', 'backup.history', ahead.slice(0, 4));
    await mkdir(year, { recursive: true });
    await writeFile(join(year, `${ahead}.manifest.gz`), '');
    expect((await repo.backups.history.list()).map((entry) => entry.label)).toEqual([ahead]);
    const error = await createLabel(repo, 'full', info, undefined, []).catch((caught: unknown) => caught);
    expect(isPgStashError(error, 'clock')).toBe(true);
  });

  it('reads only the newest year of the history: it holds the latest label', async () => {
    const history = join(root, 'repo', 'backup', 'main', 'backup.history');
    for (const label of ['20240101-000000F', '20250601-120000F', '20250701-120000F', '20260102-030405F']) {
      await mkdir(join(history, label.slice(0, 4)), { recursive: true });
      await writeFile(join(history, label.slice(0, 4), `${label}.manifest.gz`), '');
    }
    expect((await repo.backups.history.newestYear()).map((entry) => entry.label)).toEqual([
      '20260102-030405F',
    ]);
    expect(await repo.backups.history.list()).toHaveLength(4);
    // The newest year's label is in the past: a new label follows it.
    expect((await createLabel(repo, 'full', info, undefined, [])).label > '20260102-030405F').toBe(true);
  });
});
