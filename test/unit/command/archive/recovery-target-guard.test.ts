// Tests for when a failed archive-get may leave recovery to PostgreSQL's recovery target: segments only, with a
// target, and never when an older timeline holds a copy PostgreSQL would fall back to.
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { targetGuardingFailure } from '../../../../src/command/archive/recovery-target-guard.js';
import { writeArchiveInfo } from '../../../../src/repo/archive-info.js';
import { newDbHistory } from '../../../../src/repo/db-history.js';
import { repoLayout } from '../../../../src/repo/layout.js';
import { Repository } from '../../../../src/repo/repository.js';
import { repoOptions } from '../../../harness/repository.js';

const SHA = 'a'.repeat(64);
const TL1 = '000000010000000000000005';
const TL2 = '000000020000000000000005';
const TARGET = { setting: 'recovery_target_lsn', value: '0/5000100' };

let root: string;
let dataDir: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'pgstash-target-guard-'));
  dataDir = join(root, 'data');
  await mkdir(join(dataDir, 'pg_wal'), { recursive: true });
  const startedSec = Math.floor(Date.now() / 1000) - 10;
  await writeFile(join(dataDir, 'postmaster.pid'), `4242\n${dataDir}\n${startedSec}\n`);
  await writeFile(join(dataDir, 'postmaster.opts'), 'postgres "-D" "data"\n');
  const conf = join(dataDir, 'postgresql.auto.conf');
  await writeFile(conf, `recovery_target_lsn = '${TARGET.value}'\n`);
  await utimes(conf, startedSec - 60, startedSec - 60);
  await writeFile(join(dataDir, 'PG_VERSION'), '15\n');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A repository with an archive.info (unless `info` is false) holding the WAL files `names`. */
async function repoWith(names: readonly string[], info = true): Promise<Repository> {
  const path = join(root, 'repo');
  const repo = await Repository.openInWorker(repoOptions(path), 'main', undefined);
  if (info) {
    const history = newDbHistory({
      version: '15',
      systemId: 1n,
      catalogVersion: 202209061,
      controlVersion: 1300,
    });
    await writeArchiveInfo(repo.driver, 'main', history, undefined);
  }
  for (const name of names) {
    const dir = join(path, repoLayout.walDirectory('main', '15-1', name));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${name}-${SHA}.zst`), 'x');
  }
  return repo;
}

describe('targetGuardingFailure', () => {
  it('leaves nothing to the target of PostgreSQL 12, which promotes where WAL runs out, nor of an unknown version', async () => {
    await writeFile(join(dataDir, 'PG_VERSION'), '12\n');
    expect(await targetGuardingFailure(TL1, dataDir, [await repoWith([])])).toBeUndefined();
    await rm(join(dataDir, 'PG_VERSION'));
    expect(await targetGuardingFailure(TL1, dataDir, [await repoWith([])])).toBeUndefined();
    await writeFile(join(dataDir, 'PG_VERSION'), '13\n');
    expect(await targetGuardingFailure(TL1, dataDir, [await repoWith([])])).toEqual(TARGET);
  });

  it('a segment of the first timeline, with a target: the target guards it', async () => {
    expect(await targetGuardingFailure(TL1, dataDir, undefined)).toEqual(TARGET);
  });

  it('a timeline history file never: a missing one would change the timeline followed', async () => {
    expect(await targetGuardingFailure('00000002.history', dataDir, [await repoWith([])])).toBeUndefined();
  });

  it('without a target never', async () => {
    await writeFile(join(dataDir, 'postgresql.auto.conf'), "restore_command = 'x'\n");
    await utimes(join(dataDir, 'postgresql.auto.conf'), 0, 0);
    expect(await targetGuardingFailure(TL1, dataDir, undefined)).toBeUndefined();
  });

  it('a later timeline: only when no older timeline holds the segment, in the archive or in pg_wal', async () => {
    expect(await targetGuardingFailure(TL2, dataDir, [await repoWith([])])).toEqual(TARGET);
    // PostgreSQL would replay the older timeline's copy past the switch point.
    expect(await targetGuardingFailure(TL2, dataDir, [await repoWith([TL1])])).toBeUndefined();
    await rm(join(root, 'repo'), { recursive: true });
    await writeFile(join(dataDir, 'pg_wal', TL1), 'x');
    expect(await targetGuardingFailure(TL2, dataDir, [await repoWith([])])).toBeUndefined();
  });

  it('a later timeline with repositories that cannot be searched: never', async () => {
    expect(await targetGuardingFailure(TL2, dataDir, undefined)).toBeUndefined();
    expect(await targetGuardingFailure(TL2, dataDir, [await repoWith([], false)])).toBeUndefined();
  });
});
