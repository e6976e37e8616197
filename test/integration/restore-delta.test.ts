// restore with delta set (not yet available): one warning that it does nothing, and the restore it would have been
// without it (every file), whether it is given on the command line or in [global] as pgBackRest configs often have.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeBackup } from '../harness/backups.js';
import { RestoreBench, verifyBackup } from '../harness/restore.js';
import { createStanzaSetup, writeConfig, type StanzaSetup } from '../harness/stanza.js';
import { runPgstash } from '../harness/pgstash.js';

describe('restore with delta set', () => {
  let setup: StanzaSetup;
  let restores: RestoreBench;

  beforeAll(async () => {
    setup = await createStanzaSetup({ walSegmentSizeMb: 1 });
    restores = new RestoreBench(setup);
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await takeBackup(setup);
  });

  afterAll(async () => {
    await restores.cleanup();
    await setup.destroy();
  });

  const deltaWarnings = (stderr: string): string[] =>
    stderr.split('\n').filter((line) => line.includes("option 'delta'"));

  it('--delta into a new directory: warned about once, as doing nothing, and the restore is complete', async () => {
    const dataDir = join(await restores.tempDir('restore'), 'data');
    const result = await setup.pgstash(['restore', `--pg1-path=${dataDir}`, '--delta']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(deltaWarnings(result.stderr)).toEqual([
      "  WARN: option 'delta' set on the command line has no effect on restore (not yet available there)",
    ]);
    expect((await verifyBackup(dataDir)).code).toBe(0);
  });

  it('delta=y in [global]: the restore is not refused', async () => {
    const configPath = join(setup.dir, 'delta.conf');
    const text = await readFile(setup.configPath, 'utf8');
    await writeConfig(configPath, text.replace('[global]\n', '[global]\ndelta=y\n'));
    const dataDir = join(await restores.tempDir('restore'), 'data');
    const result = await runPgstash(
      [`--config=${configPath}`, `--stanza=${setup.stanza}`, 'restore', `--pg1-path=${dataDir}`],
      { as: 'postgres' },
    );
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(deltaWarnings(result.stderr)).toHaveLength(1);
    expect((await verifyBackup(dataDir)).code).toBe(0);
  });

  it('--delta into a directory that is not empty is refused as without it (40), touching nothing', async () => {
    const dataDir = await restores.tempDir('restore');
    await writeFile(join(dataDir, 'keep.txt'), 'mine');
    const result = await setup.pgstash(['restore', `--pg1-path=${dataDir}`, '--delta']);
    expect(result.code, result.stdout + result.stderr).toBe(40);
    expect(await readFile(join(dataDir, 'keep.txt'), 'utf8')).toBe('mine');
  });
});
