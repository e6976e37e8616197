// backup.info losing backups that are still in the repository, on real PostgreSQL 15: lost with its copy (then
// stanza-create, as the error hints, lists them again from their manifests, with their annotations and pins), or
// replaced by an older copy (then expire, or the next backup, adds them back). Before, stanza-create wrote an empty
// backup.info and the next expire removed every unlisted backup but the newest as a leftover of a killed backup: a
// DBA following the hint lost the backups.
import { copyFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listedLabels, takeBackup } from '../harness/backups.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';

describe('backups backup.info no longer lists', () => {
  let setup: StanzaSetup;
  let infoPath: string;

  /** Each backup's record in info --output=json (label, type, prior, sizes, WAL range, ...), by label. */
  async function records(): Promise<Map<string, unknown>> {
    const info = await setup.pgstashOk(['info', '--output=json']);
    const [stanza] = JSON.parse(info.stdout) as [{ backup: { label: string }[] }];
    return new Map(stanza.backup.map((backup) => [backup.label, backup]));
  }

  /** Every backup directory in the repository (full, diff and incr), listed or not, in name order. */
  async function backupDirs(): Promise<string[]> {
    const names = await readdir(join(setup.repoPath, 'backup', setup.stanza));
    return names.filter((name) => /^\d{8}-\d{6}F(_\d{8}-\d{6}[DI])?$/.test(name)).sort();
  }

  /**
   * Takes two incrs, then puts back the backup.info (and copy) of before them: returns the labels it lists and the
   * two it no longer does.
   */
  async function twoBackupsBehindAnOlderCopy(): Promise<{ labels: string[]; first: string; second: string }> {
    const old = join(setup.dir, 'backup.info.old');
    await copyFile(infoPath, old);
    const labels = await listedLabels(setup);
    const first = await takeBackup(setup, ['--type=incr']);
    const second = await takeBackup(setup, ['--type=incr']);
    await copyFile(old, infoPath);
    await copyFile(old, `${infoPath}.copy`);
    expect(await listedLabels(setup)).toEqual(labels);
    return { labels, first, second };
  }

  beforeAll(async () => {
    setup = await createStanzaSetup({ compressType: 'lz4', global: { 'repo1-retention-full': '2' } });
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    infoPath = join(setup.repoPath, 'backup', setup.stanza, 'backup.info');
  });

  afterAll(async () => {
    await setup?.destroy();
  });

  it('lost with its copy: backup fails naming stanza-create, which lists the backups again, exactly as they were', async () => {
    await setup.cluster.psql('create table t (id int); insert into t select generate_series(1, 1000)');
    const full = await takeBackup(setup, ['--annotation=source=nightly']);
    await setup.cluster.psql('insert into t select generate_series(1, 1000)');
    const incr = await takeBackup(setup, ['--type=incr']);
    // Annotations and pins live in backup.info, and in the manifests so that they are listed again with them.
    await setup.pgstashOk(['annotate', `--set=${full}`, '--pin', '--annotation=keep=until audit']);
    await setup.pgstashOk(['annotate', `--set=${incr}`, '--annotation=ticket=DBA-42']);
    const before = await records();
    expect(before.get(full)).toMatchObject({
      pinned: true,
      annotation: { source: 'nightly', keep: 'until audit' },
    });
    expect(before.get(incr)).toMatchObject({ pinned: false, annotation: { ticket: 'DBA-42' } });
    await rm(infoPath);
    await rm(`${infoPath}.copy`);

    const refused = await setup.pgstash(['backup', '--type=incr', '--start-fast']);
    expect(refused.code).toBe(55);
    expect(refused.stderr).toContain('stanza-create');

    const repaired = await setup.pgstashOk(['stanza-create']);
    expect(repaired.stdout).toContain(
      `stanza '${setup.stanza}' repaired on repo1 (${setup.repoPath}): backup.info was missing; the 2 complete backups found in the repository are listed again`,
    );
    expect(await listedLabels(setup)).toEqual([full, incr]);
    expect(await records()).toEqual(before);

    // The next backup and its expire keep them all (retention 2 fulls: nothing is due).
    const next = await takeBackup(setup, ['--type=incr']);
    expect(await listedLabels(setup)).toEqual([full, incr, next]);
    expect(await backupDirs()).toEqual([full, incr, next].sort());
  });

  it('replaced by an older copy: expire adds the missing backups back (not with --dry-run) and removes none', async () => {
    const { labels, first, second } = await twoBackupsBehindAnOlderCopy();

    const dry = await setup.pgstashOk(['expire', '--dry-run']);
    expect(dry.stderr).toContain(
      `backup ${first} is complete but was not in backup.info: added back (dry-run)`,
    );
    expect(dry.stdout).not.toContain('remove expired backup');
    expect(await listedLabels(setup)).toEqual(labels);

    const expire = await setup.pgstashOk(['expire']);
    expect(expire.stderr).toContain(`backup ${first} is complete but was not in backup.info: added back`);
    expect(expire.stderr).toContain(`backup ${second} is complete but was not in backup.info: added back`);
    expect(expire.stdout).not.toContain('remove expired backup');
    expect(await listedLabels(setup)).toEqual([...labels, first, second]);
    expect(await backupDirs()).toEqual([...labels, first, second].sort());
  });

  it('replaced by an older copy: the next backup adds the missing backups back and builds on the newest', async () => {
    const { labels, first, second } = await twoBackupsBehindAnOlderCopy();

    const next = await setup.pgstashOk(['backup', '--type=incr', '--start-fast']);
    expect(next.stderr).toContain(`backup ${first} is complete but was not in backup.info: added back`);
    expect(next.stderr).toContain(`backup ${second} is complete but was not in backup.info: added back`);
    expect(next.stderr).not.toContain('removing incomplete backup');
    const label = /backup (\S+) complete/.exec(next.stdout)?.[1] as string;
    expect(label.startsWith(`${labels[0] as string}_`)).toBe(true);
    expect(await listedLabels(setup)).toEqual([...labels, first, second, label]);
    expect(await backupDirs()).toEqual([...labels, first, second, label].sort());
    const info = await setup.pgstashOk(['info', `--set=${label}`]);
    expect(info.stdout).toContain(`prior backup: ${second}`);
  });
});
