// archive-push and archive-get killed by a signal while they write (PostgreSQL signals them along with itself on
// shutdown): they die of that signal, as PostgreSQL expects, and leave no temp file in pg_wal or the repository.
import { chmod, copyFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecResult } from '../harness/exec.js';
import { signalWhen } from '../harness/signal.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { createTempDir, removeTempDir } from '../harness/tmp.js';
import { switchWal } from '../harness/wal.js';

/** Every file under `dir`, relative to it ([] when it does not exist yet). */
async function filesUnder(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
      .sort();
  } catch {
    return [];
  }
}

const TEMP = /\.pgstash\.tmp$/;

/** Runs pgstash until it is caught writing a temp file under `watched`, and signals it then (see signalWhen). */
async function killWhileWriting(
  args: readonly string[],
  watched: string,
  signal: NodeJS.Signals,
  reset: () => Promise<void>,
): Promise<ExecResult> {
  const writing = async (): Promise<boolean> => (await filesUnder(watched)).some((name) => TEMP.test(name));
  for (let attempt = 1; attempt <= 20; attempt++) {
    await reset();
    const result = await signalWhen(args, writing, signal);
    if (result !== undefined) return result;
  }
  throw new Error(`pgstash ${args.join(' ')} was never caught writing a temp file under '${watched}'`);
}

describe('archive commands killed while writing', () => {
  let setup: StanzaSetup;
  let walDir: string;
  let segment: string;

  beforeAll(async () => {
    // Large segments compressed with gz: each command writes for long enough to be caught at it.
    setup = await createStanzaSetup({ compressType: 'gz', walSegmentSizeMb: 64, archive: false });
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql('create table t (id int, payload text)');
    await setup.cluster.psql(
      'insert into t select g, md5(random()::text) || md5(random()::text) from generate_series(1, 400000) g',
    );
    segment = await switchWal(setup);
    // A copy of the finished segment: without archiving, the server may recycle its own.
    walDir = await createTempDir({ label: 'wal' });
    await copyFile(join(setup.cluster.dataDir, 'pg_wal', segment), join(walDir, segment));
    await chmod(join(walDir, segment), 0o644);
  });

  afterAll(async () => {
    if (walDir !== undefined) await removeTempDir(walDir);
    await setup?.destroy();
  });

  const pushArgs = (): string[] => [
    `--config=${setup.configPath}`,
    `--stanza=${setup.stanza}`,
    'archive-push',
    join(walDir, segment),
  ];
  const archiveDir = (): string => join(setup.repoPath, 'archive', setup.stanza);

  it('archive-push: dies of SIGTERM, stores nothing, and a new push stores the segment', async () => {
    const files = async (): Promise<string[]> =>
      (await filesUnder(archiveDir())).filter((name) => name.includes(segment));
    // The segment's claim (repo/archive-claim.ts) may stay: it names this content, whose retry completes it.
    const stored = async (): Promise<string[]> => (await files()).filter((name) => !name.endsWith('.claim'));
    const result = await killWhileWriting(pushArgs(), archiveDir(), 'SIGTERM', async () => {
      for (const name of await files()) await rm(join(archiveDir(), name));
    });
    expect(result.signal, result.stderr).toBe('SIGTERM');
    expect(await stored()).toEqual([]);

    await setup.pgstashOk(['archive-push', join(walDir, segment)]);
    const [file, ...more] = await stored();
    expect(more).toEqual([]);
    expect(file).toMatch(new RegExp(`/${segment}-[0-9a-f]{64}\\.gz$`));
  });

  for (const signal of ['SIGTERM', 'SIGQUIT'] as const) {
    it(`archive-get: dies of ${signal} and leaves nothing in the destination directory`, async () => {
      // Stored already when the push test ran first; pushing again is harmless.
      await setup.pgstashOk(['archive-push', join(walDir, segment)]);
      const dest = await createTempDir({ label: 'pg_wal' });
      try {
        const args = [
          `--config=${setup.configPath}`,
          `--stanza=${setup.stanza}`,
          'archive-get',
          segment,
          join(dest, 'RECOVERYXLOG'),
        ];
        const result = await killWhileWriting(args, dest, signal, async () => {
          for (const name of await filesUnder(dest)) await rm(join(dest, name));
        });
        expect(result.signal, result.stderr).toBe(signal);
        expect(await filesUnder(dest)).toEqual([]);
      } finally {
        await removeTempDir(dest);
      }
    });
  }
});
