// Several repositories at once on real PostgreSQL 15: repo1 a posix directory, repo2 an S3 bucket (versitygw over
// TLS). archive_command stores every segment in both (each with its own compression); one repository failing fails
// the push naming it while the other keeps its copy, and the retry sends only to the one missing it; archive-get
// falls back to repo2; backup --repo; restore takes the first repository holding a backup, or --repo / --set;
// retention per repository, and expire going on past a repository that fails; info with one repository
// unreadable or unreachable still shows the others.
import { createHash } from 'node:crypto';
import { chmod, readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runPgstash } from '../harness/pgstash.js';
import { freePort } from '../harness/ports.js';
import { RestoreBench } from '../harness/restore.js';
import { s3RepoLines, s3ServerAvailable, startS3Server, type S3TestServer } from '../harness/s3-server.js';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { switchUntilArchived, switchWal, waitArchived } from '../harness/wal.js';

const LABEL = /backup (\S+) complete/;
const RESTORED = /restored backup set (\S+) /;

interface InfoJson {
  status: { code: number; message: string };
  backup: { label: string; database: { 'repo-key': number } }[];
  repo: { key: number; status: { code: number; message: string } }[];
}

describe.skipIf(!s3ServerAvailable('versitygw'))('two repositories at once: posix repo1 and S3 repo2', () => {
  let server: S3TestServer;
  let setup: StanzaSetup;
  let restores: RestoreBench;
  let bucket: string;
  /** The archive id directory of the stanza in repo1. */
  let repo1Archive: string;

  beforeAll(async () => {
    server = await startS3Server('versitygw');
    bucket = await server.createBucket('multi-repo');
    setup = await createStanzaSetup({
      compressType: 'zst',
      global: {
        'repo1-retention-full': '1',
        'repo1-compress-type': 'lz4',
        ...s3RepoLines(server, bucket, { repo: 2 }),
        'repo2-retention-full': '2',
      },
    });
    repo1Archive = join(setup.repoPath, 'archive', setup.stanza, '15-1');
    restores = new RestoreBench(setup);
    await setup.cluster.start();
  });

  afterAll(async () => {
    await restores?.cleanup();
    await setup?.destroy();
    await server?.stop();
  });

  /** repo1's stored copies of `segment` (file names). */
  async function inRepo1(segment: string): Promise<string[]> {
    const names = await readdir(join(repo1Archive, segment.slice(0, 16))).catch(() => []);
    return names.filter((name) => name.startsWith(`${segment}-`));
  }

  /** repo2's stored copies of `segment` (object keys). */
  async function inRepo2(segment: string): Promise<string[]> {
    const page = await server.client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: `pgstash/archive/${setup.stanza}/15-1/${segment.slice(0, 16)}/${segment}-`,
      }),
    );
    return (page.Contents ?? []).map((object) => object.Key ?? '');
  }

  async function infoJson(args: readonly string[] = [], env?: Record<string, string>): Promise<InfoJson> {
    const result = await setup.pgstash(['info', '--output=json', ...args], env === undefined ? {} : { env });
    expect(result.code, result.stderr).toBe(0);
    return (JSON.parse(result.stdout) as InfoJson[])[0] as InfoJson;
  }

  /** Runs `body` with `path` at `mode`, then puts its mode back. */
  async function withMode<T>(path: string, mode: number, body: () => Promise<T>): Promise<T> {
    const was = (await stat(path)).mode & 0o7777;
    await chmod(path, mode);
    try {
      return await body();
    } finally {
      await chmod(path, was);
    }
  }

  const labelsIn = (info: InfoJson, repo: number): string[] =>
    info.backup.filter((backup) => backup.database['repo-key'] === repo).map((backup) => backup.label);

  it('creates the stanza and checks on both; archive_command stores each segment in both, with its own compression', async () => {
    const created = await setup.pgstashOk(['stanza-create']);
    expect(created.stdout).toMatch(/created on repo1/);
    expect(created.stdout).toMatch(/created on repo2/);
    const checked = await setup.pgstashOk(['check']);
    expect(checked.stdout).toContain('archived to repo1, repo2');
    await setup.cluster.psql(
      `create table items (id int primary key, body text);
       insert into items select g, md5(g::text) from generate_series(1, 5000) g;`,
    );
    const segment = await switchWal(setup);
    await waitArchived(setup, segment);
    expect(await inRepo1(segment)).toEqual([expect.stringMatching(/^[0-9A-F]{24}-[0-9a-f]{64}\.lz4$/)]);
    expect(await inRepo2(segment)).toEqual([expect.stringMatching(/-[0-9a-f]{64}\.zst$/)]);
  });

  it('a failing repository fails the push naming it, the other keeps its copy, and the retry sends only to the one missing it', async () => {
    const before = await setup.cluster.psql('select failed_count from pg_stat_archiver');
    // repo1 unwritable: its archive id directory and every segment directory in it.
    const dirs = [repo1Archive, ...(await readdir(repo1Archive)).map((name) => join(repo1Archive, name))];
    const modes = await Promise.all(dirs.map(async (dir) => (await stat(dir)).mode & 0o7777));
    for (const dir of dirs) await chmod(dir, 0o555);
    let segment: string;
    let stored: Date | undefined;
    try {
      // Something to switch away from: a switch with no WAL written since the last one is no new segment.
      await setup.cluster.psql(`insert into items values (-1, 'while repo1 fails')`);
      segment = await switchWal(setup);
      for (let i = 0; ; i++) {
        const failed = await setup.cluster.psql(
          `select failed_count > ${before} and last_failed_wal = '${segment}' from pg_stat_archiver`,
        );
        if (failed === 't') break;
        if (i > 300)
          throw new Error(
            `the push of ${segment} did not fail\n${await setup.cluster.psql('select * from pg_stat_archiver')}\n` +
              `${JSON.stringify(await inRepo1(segment))} ${JSON.stringify(await inRepo2(segment))}\n` +
              `${await readFile(join(setup.dir, 'log', `${setup.stanza}-archive-push.log`), 'utf8').catch(String)}`,
          );
        await sleep(100);
      }
      // PostgreSQL keeps the segment (not archived), repo2 holds it, and the failure names repo1.
      expect(await setup.cluster.psql('select last_archived_wal from pg_stat_archiver')).not.toBe(segment);
      expect(await inRepo1(segment)).toEqual([]);
      const [key] = await inRepo2(segment);
      expect(key).toBeDefined();
      stored = (await server.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).LastModified;
      expect(await setup.cluster.logTail(60)).toContain(`archive-push of '${segment}' failed on repo1`);
      // Distinct seconds: a copy sent again would show a later LastModified.
      await sleep(1100);
    } finally {
      for (const [index, dir] of dirs.entries()) await chmod(dir, modes[index] ?? 0o750);
    }
    await switchUntilArchived(setup);
    expect(await inRepo1(segment)).toHaveLength(1);
    const keys = await inRepo2(segment);
    expect(keys).toHaveLength(1);
    const head = await server.client.send(new HeadObjectCommand({ Bucket: bucket, Key: keys[0] }));
    expect(head.LastModified).toEqual(stored);
    const log = await readFile(join(setup.dir, 'log', `${setup.stanza}-archive-push.log`), 'utf8');
    expect(log).toContain(`WAL file '${segment}' already exists in the repo2 archive with the same checksum`);
  });

  it('archive-get falls back to repo2 when repo1 lacks the segment or fails, and says which served it', async () => {
    await setup.cluster.psql(`insert into items values (-2, 'for archive-get')`);
    const segment = await switchWal(setup);
    await waitArchived(setup, segment);
    const [name] = await inRepo1(segment);
    const sha256 = /-([0-9a-f]{64})\./.exec(name ?? '')?.[1];
    expect(sha256).toBeDefined();
    const dir = await restores.tempDir('get');
    const get = async (to: string) => {
      const result = await setup.pgstash(['--log-level-console=info', 'archive-get', segment, join(dir, to)]);
      expect(result.code, result.stderr).toBe(0);
      const digest = createHash('sha256')
        .update(await readFile(join(dir, to)))
        .digest('hex');
      expect(digest).toBe(sha256);
      return `${result.stdout}${result.stderr}`;
    };
    const repo1Copy = join(repo1Archive, segment.slice(0, 16), name ?? '');
    expect(await get('from-repo1')).toContain(`found ${segment} in the repo1 archive`);

    // Missing from repo1.
    await rename(repo1Copy, `${repo1Copy}.away`);
    try {
      expect(await get('missing-in-repo1')).toContain(`found ${segment} in the repo2 archive`);
    } finally {
      await rename(`${repo1Copy}.away`, repo1Copy);
    }

    // repo1 unreadable: an error there, not the end of the search.
    await withMode(join(setup.repoPath, 'archive', setup.stanza), 0o000, async () => {
      const output = await get('repo1-failing');
      expect(output).toMatch(/repo1: .*(denied|unable)/i);
      expect(output).toContain(`found ${segment} in the repo2 archive`);
    });

    const missing = await setup.pgstash(['archive-get', '0000000100000001000000FE', join(dir, 'none')]);
    expect(missing.code).toBe(1);

    // A repository whose path cannot even be looked at (here: under a directory closed to postgres) is an error
    // of its own: archive-get reads the next one, archive-push still stores in the others and fails naming it.
    const closed = await restores.tempDir('closed');
    await chmod(closed, 0o000);
    const unopened = join(closed, 'repo');
    const fromRepo2 = await setup.pgstash([
      '--log-level-console=info',
      `--repo1-path=${unopened}`,
      'archive-get',
      segment,
      join(dir, segment),
    ]);
    expect(fromRepo2.code, fromRepo2.stderr).toBe(0);
    expect(`${fromRepo2.stdout}${fromRepo2.stderr}`).toContain(`found ${segment} in the repo2 archive`);
    const [key] = await inRepo2(segment);
    await server.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    const pushed = await setup.pgstash(['archive-push', join(dir, segment)], {
      env: { PGSTASH_REPO3_PATH: unopened },
    });
    expect(pushed.code).not.toBe(0);
    expect(pushed.stderr).toContain(`archive-push of '${segment}' failed on repo3`);
    expect(await inRepo2(segment)).toEqual([key]);
    expect(await inRepo1(segment)).toHaveLength(1);
  });

  let repo2First: string;
  let repo1First: string;

  it('backup --repo=2 goes to repo2 only; restore takes the first repository holding a backup, or --repo, or --set', async () => {
    const backup2 = await setup.pgstashOk(['backup', '--repo=2', '--start-fast', '--type=full']);
    repo2First = LABEL.exec(backup2.stdout)?.[1] ?? '';
    expect(repo2First).toMatch(/F$/);
    let info = await infoJson();
    expect(labelsIn(info, 1)).toEqual([]);
    expect(labelsIn(info, 2)).toEqual([repo2First]);
    // Written after the backup: the restored server gets it from the archive through restore_command.
    await setup.cluster.psql(`insert into items values (5001, 'after the backup')`);
    await switchUntilArchived(setup);
    const expected = await setup.cluster.psql(
      "select count(*), md5(string_agg(body, ',' order by id)) from items",
    );

    // repo1 has no backup yet: restore skips it (a warning names it) and restores repo2's.
    const fromRepo2 = await restores.restore([]);
    expect(RESTORED.exec(fromRepo2.result.stdout)?.[1]).toBe(repo2First);
    expect(fromRepo2.result.stderr).toMatch(/repo1: .*no backup set/);
    const restored = await restores.start(fromRepo2.dataDir);
    for (let i = 0; i < 300; i++) {
      if ((await restored.psql('select pg_is_in_recovery()')) === 'f') break;
      await sleep(200);
    }
    expect(await restored.psql("select count(*), md5(string_agg(body, ',' order by id)) from items")).toBe(
      expected,
    );
    await restores.stopServers();

    // Now repo1 holds one too (taken later than repo2's is no matter): repo1 comes first, as in pgBackRest.
    const backup1 = await setup.pgstashOk(['backup', '--start-fast', '--type=full']);
    repo1First = LABEL.exec(backup1.stdout)?.[1] ?? '';
    info = await infoJson();
    expect(labelsIn(info, 1)).toEqual([repo1First]);
    expect(labelsIn(info, 2)).toEqual([repo2First]);
    const byDefault = await restores.restore([]);
    expect(RESTORED.exec(byDefault.result.stdout)?.[1]).toBe(repo1First);
    const byRepo = await restores.restore(['--repo=2']);
    expect(RESTORED.exec(byRepo.result.stdout)?.[1]).toBe(repo2First);
    const bySet = await restores.restore([`--set=${repo2First}`]);
    expect(RESTORED.exec(bySet.result.stdout)?.[1]).toBe(repo2First);
    const nowhere = await setup.pgstash([
      'restore',
      `--pg1-path=${join(await restores.tempDir('none'), 'data')}`,
      '--set=20200101-000000F',
    ]);
    expect(nowhere.code).toBe(75);
    expect(nowhere.stderr).toContain('looked in repo1, repo2');
  });

  it('keeps each repository to its own retention, and stores backups with its own compression', async () => {
    const again1 = LABEL.exec(
      (await setup.pgstashOk(['backup', '--repo=1', '--start-fast', '--type=full'])).stdout,
    )?.[1];
    const second2 = LABEL.exec(
      (await setup.pgstashOk(['backup', '--repo=2', '--start-fast', '--type=full'])).stdout,
    )?.[1];
    // repo2 keeps 2 fulls: both still there.
    let info = await infoJson();
    expect(labelsIn(info, 1)).toEqual([again1]);
    expect(labelsIn(info, 2)).toEqual([repo2First, second2]);
    const third2 = LABEL.exec(
      (await setup.pgstashOk(['backup', '--repo=2', '--start-fast', '--type=full'])).stdout,
    )?.[1];
    info = await infoJson();
    expect(labelsIn(info, 1)).toEqual([again1]);
    expect(labelsIn(info, 2)).toEqual([second2, third2]);
    await stat(join(setup.repoPath, 'backup', setup.stanza, again1 ?? '', 'pg_data', 'PG_VERSION.lz4'));
    await server.client.send(
      new HeadObjectCommand({
        Bucket: bucket,
        Key: `pgstash/backup/${setup.stanza}/${third2 ?? ''}/pg_data/PG_VERSION.zst`,
      }),
    );
  });

  it('info shows every repository: one unreadable or unreachable is its error status, not a failed info', async () => {
    let info = await infoJson();
    expect(info.status).toMatchObject({ code: 0 });

    await withMode(setup.repoPath, 0o000, async () => {
      info = await infoJson();
      expect(info.status).toEqual({ code: 4, message: 'different across repos', lock: expect.anything() });
      expect(info.repo.map((repo) => repo.status.code)).toEqual([99, 0]);
      expect(info.repo[0]?.status.message).toMatch(/denied/i);
      expect(labelsIn(info, 2)).toHaveLength(2);
      const text = await setup.pgstash(['info']);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain('status: mixed');
      expect(text.stdout).toMatch(/repo1: .*status: error \(.*denied/i);
      expect(text.stdout).toMatch(/repo2: .*status: ok/);
      // --repo: only that one.
      info = await infoJson(['--repo=2']);
      expect(info.repo.map((repo) => repo.key)).toEqual([2]);
      expect(info.status.code).toBe(0);
    });

    // repo3: an S3 endpoint where nothing answers, with and without --stanza (stanzas are listed then).
    const port = await freePort();
    const env = {
      PGSTASH_REPO3_TYPE: 's3',
      PGSTASH_REPO3_PATH: '/nowhere',
      PGSTASH_REPO3_S3_BUCKET: bucket,
      PGSTASH_REPO3_S3_ENDPOINT: `127.0.0.1:${port}`,
      PGSTASH_REPO3_S3_REGION: server.region,
      PGSTASH_REPO3_S3_URI_STYLE: 'path',
      PGSTASH_REPO3_S3_KEY: server.accessKey,
      PGSTASH_REPO3_S3_KEY_SECRET: server.secretKey,
      PGSTASH_IO_TIMEOUT: '2',
    };
    info = await infoJson([], env);
    expect(info.repo.map((repo) => [repo.key, repo.status.code])).toEqual([
      [1, 0],
      [2, 0],
      [3, 99],
    ]);
    expect(info.repo[2]?.status.message).toContain(`127.0.0.1:${port}`);
    const all = await runPgstash([`--config=${setup.configPath}`, '--output=json', 'info'], {
      as: 'postgres',
      env,
    });
    expect(all.code, all.stderr).toBe(0);
    const stanzas = JSON.parse(all.stdout) as (InfoJson & { name: string })[];
    expect(stanzas.map((stanza) => stanza.name)).toEqual([setup.stanza]);
    expect(stanzas[0]?.repo.map((repo) => repo.status.code)).toEqual([0, 0, 99]);
  });

  it('expire alone runs on every repository: one that fails does not keep the others from being expired', async () => {
    const before = labelsIn(await infoJson(), 2);
    expect(before).toHaveLength(2);
    const closed = await restores.tempDir('closed-expire');
    await chmod(closed, 0o000);
    const expired = await setup.pgstash([
      `--repo1-path=${join(closed, 'repo')}`,
      '--repo2-retention-full=1',
      'expire',
    ]);
    expect(expired.code).not.toBe(0);
    expect(expired.stderr).toContain('expire failed on repo1');
    expect(labelsIn(await infoJson(), 2)).toEqual(before.slice(1));
  });
});
