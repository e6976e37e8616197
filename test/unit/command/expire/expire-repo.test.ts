// expireRepo on a real repository (BackupStore and WalArchive on files): a diff/incr chain goes with its full,
// WAL goes to exactly what the retained backups need (claims with their segments), --dry-run changes nothing.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireRepo } from '../../../../src/command/expire/expire-repo.js';
import type { RetentionPolicy } from '../../../../src/command/expire/backup-plan.js';
import type { BackupRecord, BackupType } from '../../../../src/repo/backup-info.js';
import { repoLayout, walClaimName } from '../../../../src/repo/layout.js';
import { fileStorage, type Manifest } from '../../../../src/repo/manifest.js';
import { Repository } from '../../../../src/repo/repository.js';
import { emptyStanza, TEST_DB } from '../../../harness/repository.js';
import { createTempDir, removeTempDir } from '../../../harness/tmp.js';

const DB = TEST_DB;
const ID = '15-1';
const COMPRESS = { type: 'none', level: 0 } as const;
const seg = (n: number): string => `00000001000000000000${n.toString(16).toUpperCase().padStart(4, '0')}`;

let root: string;
beforeAll(async () => {
  root = await createTempDir({ label: 'expire-repo' });
});
afterAll(async () => {
  await removeTempDir(root);
});

function stanza(name: string): Promise<Repository> {
  return emptyStanza(join(root, name));
}

/** Commits backup `label` with one real file through BackupStore, its WAL from segment `start` to `stop`. */
async function commit(
  repo: Repository,
  label: string,
  type: BackupType,
  prior: string | undefined,
  wal: [number, number],
) {
  const backup = {
    label,
    type,
    ...(prior === undefined ? {} : { prior }),
    timestampStart: 1_700_000_000,
    lsnStart: '0/1',
    walStart: seg(wal[0]),
    timeline: 1,
    compressType: COMPRESS.type,
    compressLevel: COMPRESS.level,
    references: [],
    encrypted: false,
    checksumPage: true,
  };
  await repo.backups.begin({
    backup,
    db: DB.current,
    targets: [{ name: 'pg_data', type: 'path', path: '/pg' }],
  });
  const stored = await repo.backups.putFile(label, 'pg_data/PG_VERSION', [Buffer.from(label)], COMPRESS);
  const file = {
    name: 'pg_data/PG_VERSION',
    mtime: 1,
    size: stored.size,
    sha256: stored.sha256,
    mode: 0o600,
    uid: 0,
    gid: 0,
    stored: { ...fileStorage(label, COMPRESS, false), size: stored.repoSize },
  };
  const span = {
    ...backup,
    timestampStop: 1_700_000_010,
    lsnStop: '0/2',
    walStop: seg(wal[1]),
    archiveCopy: false,
  };
  const manifest: Manifest = {
    backup: span,
    db: DB.current,
    targets: [{ name: 'pg_data', type: 'path', path: '/pg' }],
    paths: [],
    links: [],
    files: [file],
  };
  const record: BackupRecord = {
    ...span,
    dbId: 1,
    size: stored.size,
    repoSize: stored.repoSize,
    fileCount: 1,
    pageChecksumErrors: 0,
  };
  // As backupComplete does: the history copy, then the commit.
  await repo.backups.history.write(manifest);
  await repo.backups.commit(manifest, record);
}

/** Archives segments 1..n (content and a claim each, as archive-push leaves them) and 00000002.history. */
async function archive(repo: Repository, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const dir = join(repo.location, repoLayout.walDirectory('main', ID, seg(i)));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${seg(i)}-${'a'.repeat(64)}`), 'wal');
    await writeFile(join(dir, walClaimName(seg(i))), '{}');
  }
  await writeFile(join(repo.location, `archive/main/${ID}/00000002.history-${'b'.repeat(64)}`), 'history');
}

/** Everything in the archive id's directory: segment names with claims, and the history file. */
async function archived(repo: Repository): Promise<string[]> {
  const names: string[] = [];
  const base = join(repo.location, `archive/main/${ID}`);
  for (const entry of await readdir(base)) {
    if (entry.endsWith('.info') || entry.endsWith('.copy')) continue;
    if (entry.includes('history')) names.push('00000002.history');
    else for (const file of await readdir(join(base, entry))) names.push(file.replace(/-a+$/, ''));
  }
  return names.sort();
}

const labels = async (repo: Repository): Promise<string[]> => (await repo.backups.list()).map((b) => b.label);

const F1 = '20260101-000000F';
const F1I = '20260101-000000F_20260102-000000I';
const F1D = '20260101-000000F_20260103-000000D';
const F1DI = '20260101-000000F_20260104-000000I';
const F2 = '20260110-000000F';
const F2I = '20260110-000000F_20260111-000000I';

async function chain(name: string): Promise<Repository> {
  const repo = await stanza(name);
  await commit(repo, F1, 'full', undefined, [2, 3]);
  await commit(repo, F1I, 'incr', F1, [4, 4]);
  await commit(repo, F1D, 'diff', F1, [5, 5]);
  await commit(repo, F1DI, 'incr', F1D, [6, 6]);
  await commit(repo, F2, 'full', undefined, [8, 9]);
  await commit(repo, F2I, 'incr', F2, [10, 10]);
  await archive(repo, 12);
  return repo;
}

const COUNT1: RetentionPolicy = { full: 1, fullType: 'count', archiveType: 'full' };
const options = (dryRun: boolean, lines: string[]) => ({
  dryRun,
  now: 1_800_000_000,
  report: (line: string) => lines.push(line),
  restoresReading: () => Promise.resolve(0),
});

describe('expireRepo', () => {
  it('expires a full with its diff/incr chain, then the WAL before the retained full, claims included', async () => {
    const repo = await chain('count');
    const lines: string[] = [];
    await expireRepo(repo, COUNT1, options(false, lines));
    expect(await labels(repo)).toEqual([F2, F2I]);
    expect(
      (await readdir(join(repo.location, 'backup/main'))).filter((n) => n.startsWith('2026')).sort(),
    ).toEqual([F2, F2I]);
    const kept = [8, 9, 10, 11, 12].flatMap((i) => [seg(i), `${seg(i)}.claim`]);
    expect(await archived(repo)).toEqual(['00000002.history', ...kept].sort());
    expect(lines).toEqual([
      `repo1: expire full backup set ${F1}, ${F1I}, ${F1D}, ${F1DI}\n`,
      `repo1: ${ID} remove archive, start = ${seg(1)}, stop = ${seg(7)}\n`,
    ]);
  });

  it('archive retention 2 of type diff keeps PITR from the diff and the start to stop of the older full', async () => {
    const repo = await chain('archive-diff');
    await expireRepo(
      repo,
      { full: 2, fullType: 'count', archive: 2, archiveType: 'diff' },
      options(false, []),
    );
    expect(await labels(repo)).toEqual([F1, F1I, F1D, F1DI, F2, F2I]);
    // Full and diff, newest first: F2, F1D -> PITR from F1D (5); F1 (older) keeps 2..3; F1I (older) keeps 4.
    const kept = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].flatMap((i) => [seg(i), `${seg(i)}.claim`]);
    expect(await archived(repo)).toEqual(['00000002.history', ...kept].sort());
  });

  it('archive retention of type incr 1 keeps the newest backup on and the consistency ranges of the others', async () => {
    const repo = await chain('archive-incr');
    await expireRepo(
      repo,
      { full: 2, fullType: 'count', archive: 1, archiveType: 'incr' },
      options(false, []),
    );
    const kept = [2, 3, 4, 5, 6, 8, 9, 10, 11, 12].flatMap((i) => [seg(i), `${seg(i)}.claim`]);
    expect(await archived(repo)).toEqual(['00000002.history', ...kept].sort());
  });

  it('--dry-run says what it would remove and changes nothing', async () => {
    const repo = await chain('dry-run');
    const info = await readFile(join(repo.location, 'backup/main/backup.info'));
    const before = await archived(repo);
    const lines: string[] = [];
    await expireRepo(repo, COUNT1, options(true, lines));
    expect(await readFile(join(repo.location, 'backup/main/backup.info'))).toEqual(info);
    expect(await archived(repo)).toEqual(before);
    expect(await labels(repo)).toEqual([F1, F1I, F1D, F1DI, F2, F2I]);
    expect(lines[0]).toBe(`repo1: expire full backup set ${F1}, ${F1I}, ${F1D}, ${F1DI} (dry-run)\n`);
    // The backups it would expire are still listed: not taken for leftover directories (expire lists leftovers
    // against what backup.info lists after its removals, without reading it again).
    expect(lines.filter((line) => line.includes('remove expired backup 2'))).toEqual([]);
  });

  it('while a restore reads the stanza, unlists expired backups but keeps their files and the WAL; the next expire finishes', async () => {
    const repo = await chain('restore-reading');
    const before = await archived(repo);
    let reading = 1;
    const run = { ...options(false, []), restoresReading: () => Promise.resolve(reading) };
    await expireRepo(repo, COUNT1, run);
    expect(await labels(repo)).toEqual([F2, F2I]);
    const dirs = async () =>
      (await readdir(join(repo.location, 'backup/main'))).filter((n) => n.startsWith('2026')).sort();
    expect(await dirs()).toEqual([F1, F1I, F1D, F1DI, F2, F2I]);
    expect(await archived(repo)).toEqual(before);
    reading = 0;
    await expireRepo(repo, COUNT1, run);
    expect(await dirs()).toEqual([F2, F2I]);
    expect(await archived(repo)).toHaveLength(1 + 2 * 5);
  });

  it('removes the claims an expire killed between data and claims left: the next expire ends as one not killed', async () => {
    const repo = await chain('orphan-claims');
    // Segments 1 to 3 lost their data, not yet their claims (WalArchive.remove: data first).
    for (const i of [1, 2, 3])
      await rm(
        join(repo.location, repoLayout.walDirectory('main', ID, seg(i)), `${seg(i)}-${'a'.repeat(64)}`),
      );
    await expireRepo(repo, COUNT1, options(false, []));
    const kept = [8, 9, 10, 11, 12].flatMap((i) => [seg(i), `${seg(i)}.claim`]);
    expect(await archived(repo)).toEqual(['00000002.history', ...kept].sort());
  });

  it('keeps a pinned incremental with its prior chain and its WAL start to stop', async () => {
    const repo = await chain('pinned');
    await repo.backups.update(F1DI, (record) => ({ ...record, pinned: true }));
    await expireRepo(repo, COUNT1, options(false, []));
    expect(await labels(repo)).toEqual([F1, F1I, F1D, F1DI, F2, F2I]);
    // F1, F1I, F1D and F1DI keep their start to stop (2-3, 4, 5, 6); 1 and 7 go.
    const kept = [2, 3, 4, 5, 6, 8, 9, 10, 11, 12].flatMap((i) => [seg(i), `${seg(i)}.claim`]);
    expect(await archived(repo)).toEqual(['00000002.history', ...kept].sort());
  });

  it('repo-retention-history: removes the history manifests older than its days, never those of listed backups', async () => {
    const repo = await chain('history');
    // A full expired long ago, of another year: its history manifest is all that is left of it.
    const old = await repo.backups.history.manifest(F1);
    const F0 = '20251220-000000F';
    await repo.backups.history.write({ ...old, backup: { ...old.backup, label: F0 } });
    const history = async () => (await repo.backups.history.list()).map((entry) => entry.label);
    const years = async () => (await readdir(join(repo.location, 'backup/main/backup.history'))).sort();
    expect(await history()).toEqual([F0, F1, F1I, F1D, F1DI, F2, F2I]);
    expect(await years()).toEqual(['2025', '2026']);

    // Unset: kept forever, as pgBackRest does, even those of the backups this expire removes.
    await expireRepo(repo, { ...COUNT1, full: 2 }, options(false, []));
    expect(await history()).toEqual([F0, F1, F1I, F1D, F1DI, F2, F2I]);

    // 400 days before now (2027-01-15) is 2025-12-11: every manifest is younger, all stay.
    await expireRepo(repo, { ...COUNT1, history: 400 }, options(false, []));
    expect(await labels(repo)).toEqual([F2, F2I]);
    expect(await history()).toEqual([F0, F1, F1I, F1D, F1DI, F2, F2I]);

    // --dry-run: says what would go, removes nothing.
    const dry: string[] = [];
    await expireRepo(repo, { ...COUNT1, history: 390 }, options(true, dry));
    expect(dry).toEqual([`repo1: remove expired backup history manifest ${F0}.manifest (dry-run)\n`]);
    expect(await history()).toEqual([F0, F1, F1I, F1D, F1DI, F2, F2I]);

    // 390 days: 2025-12-21; F0 goes, and its year directory with it.
    await expireRepo(repo, { ...COUNT1, history: 390 }, options(false, []));
    expect(await history()).toEqual([F1, F1I, F1D, F1DI, F2, F2I]);
    expect(await years()).toEqual(['2026']);

    // 0: only the listed backups' manifests stay, however old they are.
    const lines: string[] = [];
    await expireRepo(repo, { ...COUNT1, history: 0 }, options(false, lines));
    expect(await history()).toEqual([F2, F2I]);
    expect(lines).toContain(`repo1: remove expired backup history manifest ${F1DI}.manifest\n`);
    expect((await repo.backups.history.manifest(F2I)).backup.prior).toBe(F2);
  });
});
