// Bad S3 settings through the CLI on a real cluster (versitygw over TLS): a wrong key, a wrong region, a missing
// bucket, an endpoint that does not answer, an untrusted certificate, a bucket holding another cluster's stanza.
// Each fails with one line naming the URL or option, the documented exit code, and writes nothing to the bucket.
// Also the credentials of repo1-s3-key-type=auto (the SDK's chain: environment, shared credentials file) and web-id.
import { chown, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PgCluster } from '../harness/cluster.js';
import { runPgstash, type PgstashResult } from '../harness/pgstash.js';
import { freePort } from '../harness/ports.js';
import { s3RepoLines, s3ServerAvailable, startS3Server, type S3TestServer } from '../harness/s3-server.js';
import { postgresIds } from '../harness/postgres-user.js';
import { configText, createStanzaSetup, writeConfig, type StanzaSetup } from '../harness/stanza.js';

describe.skipIf(!s3ServerAvailable('versitygw'))('bad S3 settings (versitygw)', () => {
  let server: S3TestServer;
  let setup: StanzaSetup;
  let bucket: string;
  let s3Options: Record<string, string>;
  let configs = 0;

  /** Every key in the test's bucket. */
  async function keys(): Promise<string[]> {
    const found: string[] = [];
    let token: string | undefined;
    do {
      const page = await server.client.send(
        new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const object of page.Contents ?? []) found.push(object.Key ?? '');
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return found.sort();
  }

  /** Runs pgstash as postgres with the stanza's S3 options changed (undefined removes one). */
  async function runWith(
    changes: Record<string, string | undefined>,
    args: string[],
    cluster: PgCluster = setup.cluster,
    env: Record<string, string> = {},
  ): Promise<PgstashResult> {
    const global: Record<string, string> = {};
    for (const [name, value] of Object.entries({ ...s3Options, ...changes }))
      if (value !== undefined) global[name] = value;
    const configPath = join(setup.dir, `bad-${++configs}.conf`);
    await writeConfig(
      configPath,
      configText({
        global: { ...global, 'log-path': join(setup.dir, 'log'), 'lock-path': join(setup.dir, 'lock') },
        main: {
          'pg1-path': cluster.dataDir,
          'pg1-socket-path': cluster.socketDir,
          'pg1-port': String(cluster.port),
        },
      }),
    );
    return runPgstash([`--config=${configPath}`, '--stanza=main', ...args], { as: 'postgres', env });
  }

  /**
   * info reports a repository it cannot read as its status (exit 0, as pgBackRest: with several repositories one
   * may fail); the status names the URL and the service's code.
   */
  async function infoStatus(changes: Record<string, string | undefined>): Promise<string> {
    const result = await runWith(changes, ['info']);
    expect(result.code, result.stderr).toBe(0);
    const status = /repo1: .*status: (error \(.*\))/.exec(result.stdout)?.[1];
    expect(status, result.stdout).toBeDefined();
    return status ?? '';
  }

  /** The one ERROR line of a failed run. */
  function errorLine(result: PgstashResult): string {
    const lines = result.stderr.split('\n').filter((line) => line.includes('ERROR'));
    expect(lines, result.stderr).toHaveLength(1);
    return lines[0] ?? '';
  }

  beforeAll(async () => {
    server = await startS3Server('versitygw');
    bucket = await server.createBucket('bad-input');
    s3Options = { ...s3RepoLines(server, bucket), 'compress-type': 'zst' };
    setup = await createStanzaSetup({ global: s3Options });
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
  });

  afterAll(async () => {
    await setup?.destroy();
    await server?.stop();
  });

  const url = (): string => `https://${server.endpoint}/${bucket}/pgstash/`;

  it('a wrong key: 105 at once, naming the URL, InvalidAccessKeyId and repo1-s3-key; nothing written', async () => {
    const before = await keys();
    for (const args of [['stanza-create'], ['backup', '--type=full', '--start-fast']]) {
      const started = Date.now();
      const result = await runWith({ 'repo1-s3-key': 'NOSUCHKEY0123456789' }, args);
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(result.code, result.stderr).toBe(105);
      expect(errorLine(result)).toContain(`'${url()}`);
      // versitygw's code for an unknown key (AWS: InvalidAccessKeyId).
      expect(errorLine(result)).toMatch(/XAdminUserNotFound|InvalidAccessKeyId/);
      expect(result.stderr).toContain('repo1-s3-key');
      expect(result.stderr + result.stdout).not.toContain(server.secretKey);
    }
    expect(await infoStatus({ 'repo1-s3-key': 'NOSUCHKEY0123456789' })).toContain(`'${url()}`);
    expect(await keys()).toEqual(before);
  });

  it('a wrong region: fails at once naming the URL, with a hint naming repo1-s3-region; nothing written', async () => {
    const before = await keys();
    for (const args of [['stanza-create'], ['backup', '--type=full', '--start-fast']]) {
      const started = Date.now();
      const result = await runWith({ 'repo1-s3-region': 'eu-west-3' }, args);
      expect(Date.now() - started).toBeLessThan(30_000);
      expect([101, 105], result.stderr).toContain(result.code);
      expect(errorLine(result)).toContain(`'${url()}`);
      expect(result.stderr).toContain('repo1-s3-region');
    }
    expect(await infoStatus({ 'repo1-s3-region': 'eu-west-3' })).toContain(`'${url()}`);
    expect(await keys()).toEqual(before);
  });

  it('a missing bucket: 73 naming the bucket and repo1-s3-bucket, for stanza-create, backup and archive-push', async () => {
    const walDir = join(setup.cluster.dataDir, 'pg_wal');
    const segment = (await readdir(walDir)).find((name) => /^[0-9A-F]{24}$/.test(name)) ?? '';
    for (const args of [
      ['stanza-create'],
      ['backup', '--type=full', '--start-fast'],
      ['archive-push', join(walDir, segment)],
    ]) {
      const result = await runWith({ 'repo1-s3-bucket': 'no-such-bucket' }, args);
      expect(result.code, result.stderr).toBe(73);
      expect(errorLine(result)).toContain(`https://${server.endpoint}/no-such-bucket/pgstash`);
      expect(errorLine(result)).toContain('NoSuchBucket');
      expect(result.stderr).toContain('repo1-s3-bucket');
    }
  });

  it('an endpoint that does not answer: 101 once io-timeout is spent, naming the URL and io-timeout', async () => {
    const port = await freePort();
    for (const args of [['stanza-create'], ['backup', '--type=full', '--start-fast']]) {
      const started = Date.now();
      const result = await runWith({ 'repo1-s3-endpoint': `127.0.0.1:${port}`, 'io-timeout': '1' }, args);
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(result.code, result.stderr).toBe(101);
      expect(errorLine(result)).toContain(`'https://127.0.0.1:${port}/${bucket}/pgstash`);
      expect(errorLine(result)).toContain('ECONNREFUSED');
      expect(result.stderr).toContain('io-timeout');
    }
    expect(await infoStatus({ 'repo1-s3-endpoint': `127.0.0.1:${port}`, 'io-timeout': '1' })).toContain(
      'ECONNREFUSED',
    );
  });

  it('a self-signed certificate without repo1-storage-ca-file: 101 at once, the hint names the option', async () => {
    const before = await keys();
    for (const args of [['stanza-create'], ['backup', '--type=full', '--start-fast']]) {
      const started = Date.now();
      const result = await runWith({ 'repo1-storage-ca-file': undefined }, args);
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(result.code, result.stderr).toBe(101);
      expect(errorLine(result)).toContain(`'${url()}`);
      expect(errorLine(result)).toMatch(/CERT/);
      expect(result.stderr).toContain('repo1-storage-ca-file');
    }
    expect(await infoStatus({ 'repo1-storage-ca-file': undefined })).toMatch(/CERT/);
    expect(await keys()).toEqual(before);
  });

  it("a bucket holding another cluster's stanza: stanza-create, backup and archive-push refuse; nothing written", async () => {
    const other = await PgCluster.create({});
    try {
      await other.start();
      const before = await keys();
      const create = await runWith({}, ['stanza-create'], other);
      expect(create.code, create.stderr).toBe(28);
      expect(errorLine(create)).toMatch(/belongs to another cluster/);
      const backup = await runWith({}, ['backup', '--type=full', '--start-fast'], other);
      expect(backup.code, backup.stderr).toBe(51);
      expect(errorLine(backup)).toMatch(/stanza 'main' is for version 15, system-id \d+, the server is/);
      const walDir = join(other.dataDir, 'pg_wal');
      const segment = (await readdir(walDir)).find((name) => /^[0-9A-F]{24}$/.test(name)) ?? '';
      const push = await runWith({}, ['archive-push', join(walDir, segment)], other);
      expect(push.code, push.stderr).toBe(44);
      expect(errorLine(push)).toMatch(/system-id \d+\) does not match stanza 'main'/);
      expect(await keys()).toEqual(before);
    } finally {
      await other.destroy();
    }
  });

  describe('credentials from the AWS SDK chain (repo1-s3-key-type=auto) and web-id', () => {
    const auto = { 'repo1-s3-key-type': 'auto', 'repo1-s3-key': undefined, 'repo1-s3-key-secret': undefined };

    it('auto: the keys come from the environment, and a wrong one there fails as a wrong key does (105)', async () => {
      const env = { AWS_ACCESS_KEY_ID: server.accessKey, AWS_SECRET_ACCESS_KEY: server.secretKey };
      const good = await runWith(auto, ['info'], setup.cluster, env);
      expect(good.code, good.stderr).toBe(0);
      expect(good.stdout).toMatch(/repo1: .*status: error \(no valid backups\)/);
      const check = await runWith(auto, ['check'], setup.cluster, env);
      expect(check.code, check.stderr).toBe(0);
      const wrong = await runWith(auto, ['stanza-create'], setup.cluster, {
        ...env,
        AWS_ACCESS_KEY_ID: 'NOSUCHKEY0123456789',
      });
      expect(wrong.code, wrong.stderr).toBe(105);
      expect(errorLine(wrong)).toContain(`'${url()}`);
    });

    it('auto: the keys come from a shared credentials file and its profile', async () => {
      const file = join(setup.dir, 'aws credentials');
      await writeFile(
        file,
        `[default]\naws_access_key_id = NOSUCHKEY0123456789\naws_secret_access_key = wrong\n\n` +
          `[backup]\naws_access_key_id = ${server.accessKey}\naws_secret_access_key = ${server.secretKey}\n`,
        { mode: 0o600 },
      );
      const { uid, gid } = postgresIds();
      await chown(file, uid, gid);
      const result = await runWith(auto, ['info'], setup.cluster, {
        AWS_SHARED_CREDENTIALS_FILE: file,
        AWS_PROFILE: 'backup',
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/repo1: .*status: error \(no valid backups\)/);
    });

    it('web-id without AWS_ROLE_ARN or AWS_WEB_IDENTITY_TOKEN_FILE: one line naming the option and the variable', async () => {
      const webId = { ...auto, 'repo1-s3-key-type': 'web-id' };
      const noRole = await runWith(webId, ['check'], setup.cluster, {
        AWS_WEB_IDENTITY_TOKEN_FILE: '/nonexistent',
      });
      expect(noRole.code, noRole.stderr).toBe(32);
      expect(errorLine(noRole)).toContain("repo1-s3-key-type is 'web-id' but AWS_ROLE_ARN is not set");
      const noToken = await runWith(webId, ['check'], setup.cluster, {
        AWS_ROLE_ARN: 'arn:aws:iam::1:role/x',
      });
      expect(errorLine(noToken)).toContain('AWS_WEB_IDENTITY_TOKEN_FILE is not set');
    });
  });
});
