// Tests the typed option accessor: value types derived from the option table (checked by tsc), defaults read from
// the table only, and the indexed groups (repoN, pgN) as records derived from the table's indexed entries.
import { errorOf } from '../../harness/errors.js';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { COMMAND_NAMES, INDEX_GROUPS, OPTIONS } from '../../../src/config/definition.js';
import type { CommandName } from '../../../src/config/definition.js';
import { loadConfig } from '../../../src/config/load.js';
import type { LoadedConfig, OptionName, PgOptions, RepoOptions } from '../../../src/config/load.js';
import { alwaysHasValue, fieldName } from '../../../src/config/option-types.js';
import { CONCRETE_OPTIONS, defaultFor, validFor } from '../../../src/config/options.js';
import { parseSize } from '../../../src/config/value.js';

/** The least each command needs: its positional arguments; stanza, repo1 and pg1 from the environment. */
const ARGS: Partial<Record<CommandName, string[]>> = {
  'archive-get': ['000000010000000000000001', 'pg_wal/RECOVERYXLOG'],
  'archive-push': ['/pg/pg_wal/000000010000000000000001'],
};
const ENV = { PGSTASH_STANZA: 'main', PGSTASH_REPO1_PATH: '/repo', PGSTASH_PG1_PATH: '/pg' };

function loadFor(command: CommandName, argv: string[] = [], env: Record<string, string> = {}): LoadedConfig {
  const set = command === 'annotate' ? ['--set=20261121-101500F'] : [];
  return loadConfig(['--no-config', ...set, ...argv, command, ...(ARGS[command] ?? [])], { ...ENV, ...env });
}

/** The table default as a command reads it: sizes are written with units in the table. */
function tableDefault(name: string, command: CommandName): unknown {
  const option = CONCRETE_OPTIONS.find((candidate) => candidate.name === name);
  const value = option === undefined ? undefined : defaultFor(option.def, command);
  return option?.def.type === 'size' && typeof value === 'string' ? parseSize(value) : value;
}

describe('value types from the option table', () => {
  it('types each option by its table entry (tsc checks these)', () => {
    // Only the types are checked (npm run typecheck): run, reading restore's options in a backup would assert.
    function checkTypes(config: LoadedConfig): void {
      expectTypeOf(config.get('process-max')).toEqualTypeOf<number>();
      expectTypeOf(config.get('buffer-size')).toEqualTypeOf<number>();
      expectTypeOf(config.get('archive-timeout')).toEqualTypeOf<number>();
      expectTypeOf(config.get('start-fast')).toEqualTypeOf<boolean>();
      expectTypeOf(config.get('compress-type')).toEqualTypeOf<'none' | 'gz' | 'lz4' | 'zst'>();
      expectTypeOf(config.get('log-level-console')).toEqualTypeOf<
        'off' | 'error' | 'warn' | 'info' | 'detail' | 'debug' | 'trace'
      >();
      expectTypeOf(config.get('lock-path')).toEqualTypeOf<string>();
      // No default, or a default that depends on another option: may be unset.
      expectTypeOf(config.get('stanza')).toEqualTypeOf<string | undefined>();
      expectTypeOf(config.get('repo')).toEqualTypeOf<number | undefined>();
      expectTypeOf(config.get('compress-level')).toEqualTypeOf<number | undefined>();
      // A default, but only when another option has some value (depend).
      expectTypeOf(config.get('target-action')).toEqualTypeOf<'pause' | 'promote' | 'shutdown' | undefined>();
      expectTypeOf(config.get('target-exclusive')).toEqualTypeOf<boolean | undefined>();
      // A default for some of its commands only: set has one for restore, not for info.
      expectTypeOf(config.get('set')).toEqualTypeOf<string | undefined>();
      expectTypeOf(config.get('set', 'restore')).toEqualTypeOf<string>();
      // Values by command.
      expectTypeOf(config.get('type', 'backup')).toEqualTypeOf<'full' | 'diff' | 'incr'>();
      expectTypeOf(config.get('type', 'restore')).toEqualTypeOf<
        'default' | 'immediate' | 'time' | 'lsn' | 'xid' | 'name' | 'standby' | 'preserve'
      >();
      expectTypeOf(config.get('recovery-option')).toEqualTypeOf<Readonly<Record<string, string>>>();
      expectTypeOf(config.get('repo3-cipher-type')).toEqualTypeOf<'none' | 'aes-256-gcm'>();
      expectTypeOf(config.get('pg1-port')).toEqualTypeOf<number>();
      expectTypeOf(config.require('pg1-path')).toEqualTypeOf<string>();
      // @ts-expect-error repo5 does not exist (INDEX_GROUPS.repo.max is 4)
      config.get('repo5-path');
      // @ts-expect-error set is not an option of backup
      config.get('set', 'backup');
    }
    expect(checkTypes).toBeTypeOf('function');
  });

  it('types repository and pg records from the indexed entries', () => {
    expectTypeOf<RepoOptions['index']>().toEqualTypeOf<number>();
    expectTypeOf<RepoOptions['path']>().toEqualTypeOf<string>();
    expectTypeOf<RepoOptions['type']>().toEqualTypeOf<'posix' | 's3' | 'azure' | 'gcs'>();
    expectTypeOf<RepoOptions['cipherType']>().toEqualTypeOf<'none' | 'aes-256-gcm'>();
    expectTypeOf<RepoOptions['cipherPass']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<RepoOptions['retentionFull']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<RepoOptions['compressType']>().toEqualTypeOf<'none' | 'gz' | 'lz4' | 'zst' | undefined>();
    expectTypeOf<keyof RepoOptions>().toEqualTypeOf<
      | 'index'
      | 'path'
      | 'type'
      | 'cipherType'
      | 'cipherPass'
      | 'retentionFull'
      | 'retentionFullType'
      | 'retentionDiff'
      | 'retentionArchiveType'
      | 'retentionArchive'
      | 'retentionHistory'
      | 'retentionDaily'
      | 'retentionWeekly'
      | 'retentionMonthly'
      | 'retentionYearly'
      | 'retentionTimeZone'
      | 'block'
      | 'bundle'
      | 'bundleSize'
      | 'bundleLimit'
      | 'compressType'
      | 'compressLevel'
      | 'ioTimeout'
      | 's3Bucket'
      | 's3Endpoint'
      | 's3Region'
      | 's3UriStyle'
      | 's3KeyType'
      | 's3Key'
      | 's3KeySecret'
      | 's3Token'
      | 's3KmsKeyId'
      | 'azureAccount'
      | 'azureContainer'
      | 'azureEndpoint'
      | 'azureUriStyle'
      | 'azureKeyType'
      | 'azureKey'
      | 'gcsBucket'
      | 'gcsEndpoint'
      | 'gcsKeyType'
      | 'gcsKey'
      | 'storagePort'
      | 'storageVerifyTls'
      | 'storageCaFile'
      | 'storageCaPath'
      | 'storageUploadChunkSize'
    >();
    expectTypeOf<PgOptions['port']>().toEqualTypeOf<number>();
    expectTypeOf<PgOptions['database']>().toEqualTypeOf<string>();
    expectTypeOf<PgOptions['socketPath']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<'repo4-retention-full'>().toExtend<OptionName>();
    expectTypeOf<'pg2-path'>().not.toExtend<OptionName>();
  });
});

describe('defaults come from the table', () => {
  // Every option whose type promises a value has one in every command it is valid for: the run-time rule
  // (alwaysHasValue) agrees with the resolver, and the value is the table's default.
  for (const command of COMMAND_NAMES) {
    it(`reads every table default in ${command}`, () => {
      const config = loadFor(command);
      for (const option of CONCRETE_OPTIONS) {
        if (!validFor(option.def, command) || !alwaysHasValue(option.def, command)) continue;
        if (option.def.type === 'list' || option.def.type === 'hash') continue;
        const name = option.name as OptionName;
        expect(config.get(name), name).toStrictEqual(tableDefault(name, command));
        expect(config.source(name), name).toBe('default');
      }
    });
  }

  it('follows the table when a default changes there', () => {
    const def = OPTIONS.find((entry) => entry.name === 'process-max') as { default?: unknown };
    const saved = def.default;
    try {
      def.default = 7;
      expect(loadFor('backup').get('process-max')).toBe(7);
    } finally {
      def.default = saved;
    }
    expect(loadFor('backup').get('process-max')).toBe(1);
  });

  it('gives what was set over the default, and the default by value of another option', () => {
    const config = loadFor('backup', ['--process-max=3', '--compress-type=gz', '--type=incr']);
    expect(config.get('process-max')).toBe(3);
    expect(config.get('compress-level')).toBe(6);
    expect(config.get('type', 'backup')).toBe('incr');
    expect(loadFor('backup', ['--compress-type=none']).get('compress-level')).toBeUndefined();
    expect(loadFor('restore').get('type', 'restore')).toBe('default');
    expect(loadFor('restore').get('set', 'restore')).toBe('latest');
    expect(loadFor('info').get('set')).toBeUndefined();
    expect(loadFor('restore').get('tablespace-map')).toEqual({});
  });

  it('reads an option whose depend is not met as unset, even with a default', () => {
    expect(loadFor('restore').get('target-action')).toBeUndefined();
    expect(loadFor('restore').get('target-exclusive')).toBeUndefined();
    expect(loadFor('restore', ['--type=immediate']).get('target-action')).toBe('pause');
    expect(loadFor('restore', ['--type=xid', '--target=5']).get('target-exclusive')).toBe(false);
  });
});

describe('reading what the types cannot promise', () => {
  it('asserts on an option with a default read in a command it is not valid for', () => {
    const error = errorOf(() => loadFor('archive-push').get('start-fast'));
    expect(error.kind).toBe('assert');
    expect(error.message).toBe("option 'start-fast' is not valid for command 'archive-push'");
    // Without a default, unset is a value the type allows.
    expect(loadFor('archive-push').get('target')).toBeUndefined();
  });

  it("asserts when the command named is not the one running, so its values' type holds", () => {
    const error = errorOf(() => loadFor('backup').get('type', 'restore'));
    expect(error.kind).toBe('assert');
    expect(error.message).toBe("option 'type' read for command 'restore' in 'backup'");
  });

  it('require names the option when it has no value', () => {
    const error = errorOf(() => loadFor('archive-push').require('pg1-host'));
    expect(error.kind).toBe('optionRequired');
    expect(error.message).toBe('pg1-host option required');
    expect(loadFor('archive-push').require('stanza')).toBe('main');
  });

  it('has no pg record for a command without pg options', () => {
    const error = errorOf(() => loadFor('info').pg);
    expect(error.kind).toBe('assert');
    expect(error.message).toBe("command 'info' takes no pg options");
  });
});

describe('indexed groups as records', () => {
  it('names a field after its entry without the group prefix', () => {
    const byName = (name: string) => OPTIONS.find((entry) => entry.name === name);
    expect(
      ['repo-path', 'repo-cipher-type', 'repo-retention-full', 'pg-socket-path'].map((name) =>
        fieldName(byName(name) as never),
      ),
    ).toEqual(['path', 'cipherType', 'retentionFull', 'socketPath']);
  });

  it('has one field per indexed table entry, at each index', () => {
    const env = {
      PGSTASH_REPO3_PATH: '/repo3',
      PGSTASH_REPO3_CIPHER_TYPE: 'aes-256-gcm',
      PGSTASH_REPO3_CIPHER_PASS: 'secret',
      PGSTASH_REPO3_RETENTION_FULL: '2',
      PGSTASH_REPO3_RETENTION_FULL_TYPE: 'time',
      PGSTASH_REPO3_RETENTION_DIFF: '3',
      PGSTASH_REPO3_RETENTION_ARCHIVE: '4',
      PGSTASH_REPO3_RETENTION_ARCHIVE_TYPE: 'diff',
      PGSTASH_REPO3_RETENTION_HISTORY: '5',
      PGSTASH_REPO3_RETENTION_DAILY: '7',
      PGSTASH_REPO3_RETENTION_WEEKLY: '4',
      PGSTASH_REPO3_RETENTION_MONTHLY: '12',
      PGSTASH_REPO3_RETENTION_YEARLY: '3',
      PGSTASH_REPO3_RETENTION_TIME_ZONE: 'Europe/Paris',
      PGSTASH_REPO3_BLOCK: 'y',
      PGSTASH_REPO3_BUNDLE: 'y',
      PGSTASH_REPO3_BUNDLE_LIMIT: '1MiB',
      PGSTASH_REPO3_TYPE: 's3',
      PGSTASH_REPO3_S3_BUCKET: 'bucket',
      PGSTASH_REPO3_S3_ENDPOINT: 's3.eu-west-3.amazonaws.com',
      PGSTASH_REPO3_S3_REGION: 'eu-west-3',
      PGSTASH_REPO3_S3_URI_STYLE: 'path',
      PGSTASH_REPO3_S3_KEY: 'key',
      PGSTASH_REPO3_S3_KEY_SECRET: 'key-secret',
      PGSTASH_REPO3_S3_TOKEN: 'token',
      PGSTASH_REPO3_S3_KMS_KEY_ID: 'kms',
      PGSTASH_REPO3_STORAGE_CA_FILE: '/ca.pem',
      PGSTASH_REPO3_STORAGE_CA_PATH: '/ca',
      PGSTASH_REPO3_COMPRESS_TYPE: 'lz4',
      PGSTASH_PG1_HOST: 'db',
      PGSTASH_PG1_SOCKET_PATH: '/run/pg',
      PGSTASH_PG1_USER: 'backup',
    };
    const config = loadFor('backup', [], env);
    const repo = config.repos.find((entry) => entry.index === 3);
    // The repo-azure-* and repo-gcs-* options apply to their repo-type only: absent from an s3 repository's record.
    const repoFields = OPTIONS.filter(
      (entry) =>
        entry.indexed === 'repo' &&
        !entry.name.startsWith('repo-gcs-') &&
        !entry.name.startsWith('repo-azure-'),
    ).map(fieldName);
    // ioTimeout: the global io-timeout, carried in an object store's record (RepoOptions).
    expect(Object.keys(repo ?? {}).sort()).toEqual(['index', 'ioTimeout', ...repoFields].sort());
    expect(repo).toEqual({
      index: 3,
      type: 's3',
      ioTimeout: 60,
      s3Bucket: 'bucket',
      s3Endpoint: 's3.eu-west-3.amazonaws.com',
      s3Region: 'eu-west-3',
      s3UriStyle: 'path',
      s3KeyType: 'shared',
      s3Key: 'key',
      s3KeySecret: 'key-secret',
      s3Token: 'token',
      s3KmsKeyId: 'kms',
      storagePort: 443,
      storageVerifyTls: true,
      storageCaFile: '/ca.pem',
      storageCaPath: '/ca',
      storageUploadChunkSize: 5 * 1024 * 1024,
      path: '/repo3',
      cipherType: 'aes-256-gcm',
      cipherPass: 'secret',
      retentionFull: 2,
      retentionFullType: 'time',
      retentionDiff: 3,
      retentionArchive: 4,
      retentionArchiveType: 'diff',
      compressType: 'lz4',
      // Its default by repo-compress-type, as compress-level's by compress-type.
      compressLevel: 1,
      bundle: true,
      bundleSize: 20 * 1024 * 1024,
      bundleLimit: 1024 * 1024,
      retentionHistory: 5,
      retentionDaily: 7,
      retentionWeekly: 4,
      retentionMonthly: 12,
      retentionYearly: 3,
      retentionTimeZone: 'Europe/Paris',
      block: true,
    });
    const pgFields = OPTIONS.filter((entry) => entry.indexed === 'pg').map(fieldName);
    expect(Object.keys(config.pg).sort()).toEqual(['index', ...pgFields].sort());
    expect(config.pg).toEqual({
      index: 1,
      path: '/pg',
      host: 'db',
      port: 5432,
      socketPath: '/run/pg',
      user: 'backup',
      database: 'postgres',
    });
  });

  it('gives a gcs repository its repo-gcs-* fields, with their defaults', () => {
    const config = loadFor('backup', [], {
      PGSTASH_REPO2_PATH: '/repo2',
      PGSTASH_REPO2_TYPE: 'gcs',
      PGSTASH_REPO2_GCS_BUCKET: 'bucket',
      PGSTASH_REPO2_GCS_KEY: '/etc/pgstash/key.json',
    });
    expect(config.repos.find((entry) => entry.index === 2)).toMatchObject({
      type: 'gcs',
      gcsBucket: 'bucket',
      gcsEndpoint: 'storage.googleapis.com',
      gcsKeyType: 'service',
      gcsKey: '/etc/pgstash/key.json',
      storagePort: 443,
      storageVerifyTls: true,
      storageUploadChunkSize: 5 * 1024 * 1024,
    });
  });

  it('has the repo-azure-* fields, with their defaults, for an azure repository', () => {
    const config = loadFor('backup', [], {
      PGSTASH_REPO2_PATH: '/repo2',
      PGSTASH_REPO2_TYPE: 'azure',
      PGSTASH_REPO2_AZURE_ACCOUNT: 'account',
      PGSTASH_REPO2_AZURE_CONTAINER: 'container',
      PGSTASH_REPO2_AZURE_KEY: 'a2V5',
    });
    expect(config.repos.find((entry) => entry.index === 2)).toMatchObject({
      type: 'azure',
      azureAccount: 'account',
      azureContainer: 'container',
      azureEndpoint: 'blob.core.windows.net',
      azureUriStyle: 'host',
      azureKeyType: 'shared',
      azureKey: 'a2V5',
      storagePort: 443,
      storageVerifyTls: true,
      storageUploadChunkSize: 5 * 1024 * 1024,
    });
  });

  it('lists only repositories whose path is set, in index order', () => {
    const config = loadFor('info', [], { PGSTASH_REPO4_PATH: '/repo4' });
    expect(config.repos.map((repo) => repo.index)).toEqual([1, 4]);
    expect(config.repos.length).toBeLessThanOrEqual(INDEX_GROUPS.repo.max);
  });
});
