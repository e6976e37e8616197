// Tests loadConfig end to end: sources and precedence, command line forms, types, required options, repos, errors.
import { errorOf } from '../../harness/errors.js';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, PgStashError } from '../../../src/common/errors.js';
import type { ErrorKind } from '../../../src/common/errors.js';
import { loadConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'pgstash-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
/** Writes a config file (mode 0600 unless told) and returns its path. */
function configFile(text: string, mode = 0o600): string {
  const path = join(dir, `pgstash-${++fileCount}.conf`);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

type Env = Record<string, string | undefined>;

/** loadConfig with an optional config file text (given with --config); no file at all otherwise. */
function load(argv: string[], options: { env?: Env; config?: string } = {}) {
  const extra = options.config === undefined ? ['--no-config'] : [`--config=${configFile(options.config)}`];
  return loadConfig([...extra, ...argv], options.env ?? {});
}

function expectError(fn: () => unknown, kind: ErrorKind, message: string | RegExp): PgStashError {
  const error = errorOf(fn);
  expect(error.kind).toBe(kind);
  expect(error.code).toBe(ERROR_CODES[kind].code);
  if (typeof message === 'string') expect(error.message).toBe(message);
  else expect(error.message).toMatch(message);
  return error;
}

const PUSH = ['--stanza=main', '--repo1-path=/repo', 'archive-push', '/pg/pg_wal/000000010000000000000001'];
const BACKUP = ['--stanza=main', '--repo1-path=/repo', '--pg1-path=/pg', 'backup'];
const RESTORE = ['--stanza=main', '--repo1-path=/repo', '--pg1-path=/pg', 'restore'];

describe('precedence', () => {
  const levels = [
    { where: 'command line', source: 'command-line', value: 11 },
    { where: 'environment', source: 'environment', value: 12 },
    { where: '[main:backup]', source: 'config', value: 13 },
    { where: '[main]', source: 'config', value: 14 },
    { where: '[global:backup]', source: 'config', value: 15 },
    { where: '[global]', source: 'config', value: 16 },
    { where: 'default', source: 'default', value: 1 },
  ] as const;

  /** Sets process-max at every level from `from` down; other stanzas and commands always set it too. */
  function loadFrom(from: number) {
    const set = (level: number) => level >= from;
    const sections: string[] = [];
    const section = (name: string, level: number) => {
      if (set(level)) sections.push(`[${name}]`, `process-max=${levels[level]?.value ?? 0}`);
    };
    section('main:backup', 2);
    section('main', 3);
    section('global:backup', 4);
    section('global', 5);
    sections.push(
      '[other]',
      'process-max=90',
      '[main:restore]',
      'process-max=91',
      '[global:archive-get]',
      'process-max=92',
    );
    const argv = [...BACKUP, ...(set(0) ? ['--process-max=11'] : [])];
    const env = set(1) ? { PGSTASH_PROCESS_MAX: '12' } : {};
    return load(argv, { env, config: sections.join('\n') });
  }

  for (const [index, level] of levels.entries()) {
    it(`takes the ${level.where} value when no higher level sets it`, () => {
      const config = loadFrom(index);
      expect(config.get('process-max')).toBe(level.value);
      expect(config.source('process-max')).toBe(level.source);
      expect(config.has('process-max')).toBe(level.source !== 'default');
    });
  }

  it('takes a repeatable option whole from the highest source, without merging', () => {
    const text = '[global]\nrecovery-option=a=1\nrecovery-option=b=2\n';
    expect(load(RESTORE, { config: text }).get('recovery-option')).toEqual({ a: '1', b: '2' });
    const env = { PGSTASH_RECOVERY_OPTION: 'c=3:d=4' };
    expect(load(RESTORE, { config: text, env }).get('recovery-option')).toEqual({ c: '3', d: '4' });
    const cli = [...RESTORE, '--recovery-option=e=5'];
    expect(load(cli, { config: text, env }).get('recovery-option')).toEqual({ e: '5' });
  });

  it('resets an option to its default with --reset-<option>, ignoring environment and file', () => {
    const config = load([...BACKUP, '--reset-process-max'], {
      config: '[global]\nprocess-max=4\n',
      env: { PGSTASH_PROCESS_MAX: '3' },
    });
    expect(config.get('process-max')).toBe(1);
    expect(config.source('process-max')).toBe('default');
    expect(config.passThrough('backup')).toContain('--reset-process-max');
  });

  it('reads the stanza for sections from the environment too', () => {
    const config = load(['--repo1-path=/r', 'archive-push', 'X'], {
      env: { PGSTASH_STANZA: 'db1' },
      config: '[db1]\npg1-path=/srv/db1\n[db2]\npg1-path=/srv/db2\n',
    });
    expect(config.get('stanza')).toBe('db1');
    expect(config.pg.path).toBe('/srv/db1');
  });

  it("tells the stanza's configured value from the command line's (configured, for drill)", () => {
    const config = load(['--repo1-path=/r', '--stanza=db1', '--pg1-path=/scratch', 'drill'], {
      env: { PGSTASH_PG1_DATABASE: 'app' },
      config: '[db1]\npg1-path=/srv/db1\n',
    });
    expect(config.get('pg1-path')).toBe('/scratch');
    expect(config.configured('pg1-path')).toBe('/srv/db1');
    expect(config.configured('pg1-database')).toBe('app');
    // Neither the file nor the environment sets it: undefined, not the default.
    expect(config.configured('pg1-port')).toBeUndefined();
  });
});

describe('command line', () => {
  it('accepts options before and after the command, and --option value', () => {
    const before = load(['--stanza=main', '--repo1-path=/r', 'archive-push', 'X']);
    const after = load(['archive-push', '--stanza=main', 'X', '--repo1-path', '/r']);
    for (const config of [before, after]) {
      expect(config.command).toBe('archive-push');
      expect(config.args).toEqual(['X']);
      expect(config.get('stanza')).toBe('main');
      expect(config.repos.map((repo) => repo.path)).toEqual(['/r']);
    }
  });

  it('takes the arguments of archive-get, and everything after -- as arguments', () => {
    const config = load([
      '--stanza=main',
      '--repo1-path=/r',
      'archive-get',
      '000000010000000000000002',
      'pg_wal/RECOVERYXLOG',
    ]);
    expect(config.args).toEqual(['000000010000000000000002', 'pg_wal/RECOVERYXLOG']);
    expect(load(['--stanza=main', '--repo1-path=/r', 'archive-push', '--', '--odd-name']).args).toEqual([
      '--odd-name',
    ]);
  });

  it('reads a negative number as the value of --option value', () => {
    const config = load([...PUSH, '--compress-level', '-5']);
    expect(config.get('compress-level')).toBe(-5);
  });

  it('takes booleans as --option and --no-option', () => {
    expect(load([...BACKUP, '--start-fast']).get('start-fast')).toBe(true);
    const config = load([...BACKUP, '--no-archive-check'], { config: '[global]\narchive-check=y\n' });
    expect(config.get('archive-check')).toBe(false);
    expect(config.source('archive-check')).toBe('command-line');
    expect(load(BACKUP).get('archive-check')).toBe(true);
    expect(load(BACKUP).get('start-fast')).toBe(false);
    expect(load([...BACKUP, '--start-fast=n']).get('start-fast')).toBe(false);
  });

  it('refuses an option given twice, and a boolean both set and negated', () => {
    expectError(
      () => load([...BACKUP, '--process-max=2', '--process-max=3']),
      'optionInvalid',
      "option 'process-max' cannot be set multiple times",
    );
    expectError(
      () => load([...BACKUP, '--start-fast', '--no-start-fast']),
      'optionInvalid',
      "option 'start-fast' cannot be set multiple times",
    );
    expectError(
      () => load([...BACKUP, '--start-fast', '--reset-start-fast']),
      'optionInvalid',
      "option 'start-fast' cannot be set, negated or reset together",
    );
  });

  it('refuses unknown options, --no- on non-booleans and missing values', () => {
    const error = expectError(() => load([...PUSH, '--bogus']), 'optionInvalid', "invalid option '--bogus'");
    expect(error.hint).toMatch(/pgstash help/);
    expectError(() => load([...PUSH, '--bogus=1']), 'optionInvalid', "invalid option '--bogus'");
    expectError(() => load([...PUSH, '-x']), 'optionInvalid', "invalid option '-x'");
    expectError(
      () => load([...PUSH, '--no-process-max']),
      'optionInvalid',
      "invalid option '--no-process-max'",
    );
    expectError(
      () => load([...PUSH, '--no-start-fast=y']),
      'optionInvalid',
      "invalid option '--no-start-fast'",
    );
    expectError(() => load([...PUSH, '--repo5-path=/x']), 'optionInvalid', "invalid option '--repo5-path'");
    expectError(
      () => load([...PUSH, '--process-max']),
      'optionInvalid',
      "option '--process-max' requires a value",
    );
  });

  it('refuses options that the command does not take', () => {
    const error = expectError(
      () => load([...PUSH, '--start-fast']),
      'optionInvalid',
      "option 'start-fast' not valid for command 'archive-push'",
    );
    expect(error.hint).toBe("run 'pgstash help archive-push' to list its options");
    expectError(
      () => load([...BACKUP, '--output=json']),
      'optionInvalid',
      "option 'output' not valid for command 'backup'",
    );
  });

  it('refuses a secure option on the command line, with the alternatives in the hint', () => {
    const error = expectError(
      () => load([...PUSH, '--repo1-cipher-pass=secret']),
      'optionInvalid',
      "option 'repo1-cipher-pass' is not allowed on the command-line",
    );
    expect(error.hint).toMatch(/config file/);
    expect(error.hint).toMatch(/PGSTASH_REPO1_CIPHER_PASS/);
    expect(error.message).not.toMatch(/secret/);
    expectError(
      () => load([...PUSH, '--repo2-cipher-pass', 'secret']),
      'optionInvalid',
      "option 'repo2-cipher-pass' is not allowed on the command-line",
    );
  });

  it('selects help and version commands', () => {
    const list = load(['help']);
    expect(list.command).toBe('help');
    expect(list.helpTopic).toBeUndefined();
    const topic = load(['help', 'backup', 'start-fast']);
    expect(topic.helpTopic).toBe('backup');
    expect(topic.args).toEqual(['backup', 'start-fast']);
    const flag = loadConfig(['archive-push', '--stanza=main', '--start-fast', 'X', '--help'], {});
    expect(flag.command).toBe('help');
    expect(flag.helpTopic).toBe('archive-push');
    expect(loadConfig(['--help'], {}).helpTopic).toBeUndefined();
    expect(loadConfig(['--version'], {}).command).toBe('version');
    expect(loadConfig(['version'], {}).command).toBe('version');
    expect(loadConfig(['help', 'backup', 'repo-path'], {}).helpTopic).toBe('backup');
  });

  it('does not read the config file or environment for help and version', () => {
    const missing = join(dir, 'missing.conf');
    expect(loadConfig(['help', `--config=${missing}`], { PGSTASH_PROCESS_MAX: 'bad' }).command).toBe('help');
    expect(loadConfig(['version'], { PGSTASH_CONFIG: missing }).command).toBe('version');
    expect(loadConfig(['version', '--log-level-console=info'], {}).get('log-level-console')).toBe('info');
  });

  it('reports unknown commands, a missing command, unknown help topics and wrong argument counts', () => {
    expectError(() => load(['bogus']), 'commandInvalid', "invalid command 'bogus'");
    expectError(() => load(['--stanza=main']), 'commandRequired', 'no command given');
    expectError(() => loadConfig([], {}), 'commandRequired', 'no command given');
    expectError(() => load(['help', 'bogus']), 'commandInvalid', "invalid command 'bogus'");
    expectError(
      () => load(['help', 'backup', 'output']),
      'optionInvalid',
      "invalid option 'output' for command 'backup'",
    );
    expectError(
      () => load(['help', 'backup', 'start-fast', 'x']),
      'paramInvalid',
      "extra argument 'x' for command 'help'",
    );
    const push = expectError(
      () => load(['--stanza=main', '--repo1-path=/r', 'archive-push']),
      'paramRequired',
      "command 'archive-push' requires <wal-path>",
    );
    expect(push.hint).toBe('usage: pgstash [options] archive-push <wal-path>');
    expectError(
      () => load(['--stanza=main', '--repo1-path=/r', 'archive-get', 'X']),
      'paramRequired',
      "command 'archive-get' requires <destination>",
    );
    expectError(
      () => load([...BACKUP, 'extra']),
      'paramInvalid',
      "extra argument 'extra' for command 'backup'",
    );
  });
});

describe('option values from every source', () => {
  it('reports a bad value with the option, the value and where it was set', () => {
    const cli = expectError(
      () => load([...BACKUP, '--process-max=abc']),
      'optionInvalidValue',
      "'abc' is not valid for 'process-max' option: expected an integer",
    );
    expect(cli.hint).toBe('the value was set on the command line');
    const env = expectError(
      () => load(BACKUP, { env: { PGSTASH_PROCESS_MAX: '1000' } }),
      'optionInvalidValue',
      "'1000' is out of range for 'process-max' option: allowed 1 to 999",
    );
    expect(env.hint).toBe('the value was set in environment variable PGSTASH_PROCESS_MAX');
    const file = expectError(
      () => load(BACKUP, { config: '[main]\nstart-fast=maybe\n' }),
      'optionInvalidValue',
      "'maybe' is not valid for 'start-fast' option: expected y or n",
    );
    expect(file.hint).toMatch(/^the value was set in config file '.*pgstash-\d+\.conf' section \[main\]$/);
  });

  it('parses booleans in the file and environment as y/n or true/false', () => {
    expect(load(BACKUP, { config: '[global]\nstart-fast=y\n' }).get('start-fast')).toBe(true);
    expect(
      load(BACKUP, { config: '[global]\nstart-fast=true\narchive-check=false\n' }).get('archive-check'),
    ).toBe(false);
    expect(load(BACKUP, { env: { PGSTASH_START_FAST: 'y' } }).get('start-fast')).toBe(true);
    expect(load(BACKUP, { env: { PGSTASH_ARCHIVE_CHECK: 'n' } }).get('archive-check')).toBe(false);
    expectError(
      () => load(BACKUP, { env: { PGSTASH_START_FAST: 'yes please' } }),
      'optionInvalidValue',
      "'yes please' is not valid for 'start-fast' option: expected y or n",
    );
  });

  it('parses integers, times, sizes, enums and paths', () => {
    const config = load(
      [
        ...PUSH,
        '--archive-timeout=2.5',
        '--buffer-size=64KB',
        '--compress-type=lz4',
        '--lock-path=/run/pgstash/',
      ],
      {
        env: { PGSTASH_PROCESS_MAX: '4' },
      },
    );
    expect(config.get('process-max')).toBe(4);
    expect(config.get('archive-timeout')).toBe(2.5);
    expect(config.get('buffer-size')).toBe(65536);
    expect(config.get('compress-type')).toBe('lz4');
    expect(config.get('lock-path')).toBe('/run/pgstash');
    expect(config.get('buffer-size')).toBe(65536);
    const defaults = load(PUSH);
    expect(defaults.get('archive-timeout')).toBe(60);
    expect(defaults.get('buffer-size')).toBe(1024 * 1024);
    expect(defaults.get('compress-type')).toBe('zst');
    expect(defaults.get('log-level-console')).toBe('warn');
    expect(defaults.get('log-level-stderr')).toBe('off');
    expect(defaults.get('log-level-file')).toBe('info');
    expect(defaults.get('log-path')).toBe('/var/log/pgstash');
    expect(defaults.get('lock-path')).toBe('/tmp/pgstash');
    expectError(
      () => load([...PUSH, '--archive-timeout=soon']),
      'optionInvalidValue',
      "'soon' is not valid for 'archive-timeout' option: expected seconds, such as 60 or 0.5",
    );
    expectError(
      () => load([...PUSH, '--buffer-size=1XB']),
      'optionInvalidValue',
      /^'1XB' is not valid for 'buffer-size' option/,
    );
    expectError(
      () => load([...PUSH, '--buffer-size=32MiB']),
      'optionInvalidValue',
      "'32MiB' is out of range for 'buffer-size' option: allowed 16KiB to 16MiB",
    );
    expectError(
      () => load([...PUSH, '--compress-type=xz']),
      'optionInvalidValue',
      "'xz' is not allowed for 'compress-type' option: allowed values are none, gz, lz4, zst",
    );
    expectError(
      () => load([...PUSH, '--log-level-console=loud']),
      'optionInvalidValue',
      /^'loud' is not allowed for 'log-level-console' option: allowed values are off, error, warn/,
    );
    expectError(
      () => load(['--stanza=main', '--repo1-path=relative', 'archive-push', 'X']),
      'optionInvalidValue',
      "'relative' is not valid for 'repo1-path' option: must be an absolute path",
    );
  });

  it('chooses the compress-level default and range by compress-type', () => {
    expect(load(PUSH).get('compress-level')).toBe(3);
    expect(load([...PUSH, '--compress-type=gz']).get('compress-level')).toBe(6);
    expect(load([...PUSH, '--compress-type=lz4']).get('compress-level')).toBe(1);
    expect(load([...PUSH, '--compress-type=none']).get('compress-level')).toBeUndefined();
    expect(load([...PUSH, '--compress-level=-7']).get('compress-level')).toBe(-7);
    expect(load([...PUSH, '--compress-type=lz4', '--compress-level=12']).get('compress-level')).toBe(12);
    expectError(
      () => load([...PUSH, '--compress-type=gz', '--compress-level=10']),
      'optionInvalidValue',
      "'10' is out of range for 'compress-level' option: allowed 0 to 9 when compress-type is 'gz'",
    );
    expectError(
      () => load([...PUSH, '--compress-level=23']),
      'optionInvalidValue',
      "'23' is out of range for 'compress-level' option: allowed -7 to 22 when compress-type is 'zst'",
    );
    // The type from the file decides the range of a level from the command line.
    expectError(
      () => load([...PUSH, '--compress-level=13'], { config: '[global]\ncompress-type=lz4\n' }),
      'optionInvalidValue',
      /allowed 0 to 12 when compress-type is 'lz4'/,
    );
  });

  it('allows and defaults type per command', () => {
    expect(load(BACKUP).get('type')).toBe('incr');
    expect(load(RESTORE).get('type')).toBe('default');
    expect(load([...BACKUP, '--type=incr']).get('type')).toBe('incr');
    expect(load([...RESTORE, '--type=immediate']).get('type')).toBe('immediate');
    expectError(
      () => load([...BACKUP, '--type=time']),
      'optionInvalidValue',
      "'time' is not allowed for 'type' option: allowed values are full, diff, incr",
    );
    expectError(
      () => load([...RESTORE, '--type=full']),
      'optionInvalidValue',
      /^'full' is not allowed for 'type' option: allowed values are default, immediate, time/,
    );
  });

  it('parses hash, repeatable path hash and target options of restore', () => {
    const config = load([
      ...RESTORE,
      '--type=time',
      '--target=2026-11-21 10:15:00+00',
      '--target-action=promote',
      '--target-exclusive',
      '--target-timeline=latest',
      '--set=20261121-101500F',
      '--recovery-option=primary_conninfo=host=db1 user=rep',
      '--recovery-option',
      'recovery_target_inclusive=off',
      '--tablespace-map=ts1=/srv/ts1',
      '--tablespace-map=16400=/srv/ts2',
      '--tablespace-map-all=/srv/ts',
      '--delta',
      '--force',
    ]);
    expect(config.get('target')).toBe('2026-11-21 10:15:00+00');
    expect(config.get('target-action')).toBe('promote');
    expect(config.get('target-exclusive')).toBe(true);
    expect(config.get('target-timeline')).toBe('latest');
    expect(config.get('set')).toBe('20261121-101500F');
    expect(config.get('recovery-option')).toEqual({
      primary_conninfo: 'host=db1 user=rep',
      recovery_target_inclusive: 'off',
    });
    expect(config.get('tablespace-map')).toEqual({ ts1: '/srv/ts1', '16400': '/srv/ts2' });
    expect(config.get('tablespace-map-all')).toBe('/srv/ts');
    expect(config.get('delta')).toBe(true);
    expect(config.get('force')).toBe(true);
    expect(load(RESTORE).get('set')).toBe('latest');
    expect(load(RESTORE).get('tablespace-map')).toEqual({});
    expectError(
      () => load([...RESTORE, '--target-timeline=newest']),
      'optionInvalidValue',
      "'newest' is not valid for 'target-timeline' option: expected 'current', 'latest' or a timeline number",
    );
    expect(load([...RESTORE, '--target-timeline=0x1A']).get('target-timeline')).toBe('0x1A');
    expectError(
      () => load([...RESTORE, '--set=yesterday']),
      'optionInvalidValue',
      /^'yesterday' is not valid for 'set' option/,
    );
    expectError(
      () => load([...RESTORE, '--tablespace-map=ts1']),
      'optionInvalidValue',
      "'ts1' is not valid for 'tablespace-map' option: expected key=value",
    );
    expectError(
      () => load([...RESTORE, '--stanza=a/b']),
      'optionInvalid',
      "option 'stanza' cannot be set multiple times",
    );
    expectError(
      () => load(['--stanza=a/b', '--repo1-path=/r', 'archive-push', 'X']),
      'optionInvalidValue',
      /^'a\/b' is not valid for 'stanza' option/,
    );
  });

  it('applies target options only for the restore types they belong to', () => {
    const error = expectError(
      () => load([...RESTORE, '--target=x']),
      'optionInvalid',
      "option 'target' is only valid when option 'type' is 'time', 'lsn', 'xid' or 'name'",
    );
    expect(error.hint).toMatch(/--type/);
    expectError(
      () => load([...RESTORE, '--type=immediate', '--target-exclusive']),
      'optionInvalid',
      /^option 'target-exclusive' is only valid when option 'type' is/,
    );
    // From the file or environment such options are ignored, as pgBackRest does.
    const ignored = load(RESTORE, {
      config: '[main]\ntarget=x\ntarget-action=promote\n',
      env: { PGSTASH_TARGET_EXCLUSIVE: 'y' },
    });
    expect(ignored.get('target')).toBeUndefined();
    expect(ignored.get('target-action')).toBeUndefined();
    expect(ignored.get('target-exclusive')).toBeUndefined();
    expect(load([...RESTORE, '--type=immediate']).get('target-action')).toBe('pause');
    const fromFile = load([...RESTORE, '--type=xid'], { config: '[main:restore]\ntarget=1234\n' });
    expect(fromFile.get('target')).toBe('1234');
  });

  it('reads PGSTASH_<OPTION> variables and ignores unknown ones and those of other commands', () => {
    const config = load(['archive-push', 'X'], {
      env: {
        PGSTASH_STANZA: 'main',
        PGSTASH_REPO1_PATH: '/env/repo',
        PGSTASH_LOG_LEVEL_CONSOLE: 'info',
        PGSTASH_BOGUS: 'x',
        PGSTASH_START_FAST: 'not even a boolean',
        PGSTASH_repo2_path: '/lower/case',
        PGSTASH_PG1_PORT: undefined,
        PATH: '/usr/bin',
      },
    });
    expect(config.get('stanza')).toBe('main');
    expect(config.get('repo1-path')).toBe('/env/repo');
    expect(config.source('repo1-path')).toBe('environment');
    expect(config.get('log-level-console')).toBe('info');
    expect(config.repos.map((repo) => repo.index)).toEqual([1]);
    expect(config.pg.port).toBe(5432);
    expect(config.warnings).toEqual([]);
  });

  it('accepts a secure option from the environment and the config file', () => {
    const env = load(PUSH, {
      env: { PGSTASH_REPO1_CIPHER_TYPE: 'aes-256-gcm', PGSTASH_REPO1_CIPHER_PASS: 'from-env' },
    });
    expect(env.repos[0]?.cipherPass).toBe('from-env');
    const file = load(PUSH, {
      config: '[global]\nrepo1-cipher-type=aes-256-gcm\nrepo1-cipher-pass=from-file\n',
    });
    expect(file.repos[0]).toEqual({
      index: 1,
      type: 'posix',
      path: '/repo',
      cipherType: 'aes-256-gcm',
      cipherPass: 'from-file',
    });
  });
});

describe('repositories', () => {
  it('configures only repo2', () => {
    const config = load(['--stanza=main', 'archive-push', 'X'], { config: '[global]\nrepo2-path=/r2\n' });
    expect(config.repos).toEqual([{ index: 2, type: 'posix', path: '/r2', cipherType: 'none' }]);
  });

  it('configures repo1 and repo3 with their own settings, in index order', () => {
    const config = load(['--stanza=main', '--repo3-path=/r3', 'backup', '--pg1-path=/pg'], {
      config: [
        '[global]',
        'repo3-cipher-type=aes-256-gcm',
        'repo3-cipher-pass=three',
        'repo3-retention-full=2',
        '[main]',
        'repo1-path=/r1',
        'repo1-retention-full=7',
      ].join('\n'),
    });
    // The retention types, time zone and block come from the option table's defaults (backup and expire only).
    const retentionTypes = {
      retentionFullType: 'count',
      retentionArchiveType: 'full',
      retentionTimeZone: 'UTC',
      block: false,
      bundle: false,
      bundleSize: 20 * 1024 * 1024,
      bundleLimit: 2 * 1024 * 1024,
    };
    expect(config.repos).toEqual([
      { index: 1, type: 'posix', path: '/r1', cipherType: 'none', retentionFull: 7, ...retentionTypes },
      {
        index: 3,
        type: 'posix',
        path: '/r3',
        cipherType: 'aes-256-gcm',
        cipherPass: 'three',
        retentionFull: 2,
        ...retentionTypes,
      },
    ]);
    expect(config.get('repo3-retention-full')).toBe(2);
    expect(config.get('repo3-retention-full-type')).toBe('count');
    expect(config.get('repo1-retention-archive-type')).toBe('full');
  });

  it('requires repoN-path when other repoN options are set', () => {
    const error = expectError(
      () =>
        load(['--stanza=main', '--repo1-path=/r1', 'archive-push', 'X'], {
          config: '[global]\nrepo2-cipher-type=aes-256-gcm\n',
        }),
      'optionRequired',
      'repo2-path option required',
    );
    expect(error.hint).toMatch(/repo2-cipher-type is set/);
  });

  it('requires repo1-path when no repository is configured', () => {
    const error = expectError(
      () => load(['--stanza=main', 'archive-push', 'X']),
      'optionRequired',
      'repo1-path option required',
    );
    expect(error.hint).toMatch(/--repo1-path/);
    expect(error.hint).toMatch(/PGSTASH_REPO1_PATH/);
    expectError(() => load(['info']), 'optionRequired', 'repo1-path option required');
  });

  it('requires the passphrase of an encrypted repository, and not of a plain one', () => {
    const error = expectError(
      () => load([...PUSH, '--repo1-cipher-type=aes-256-gcm']),
      'optionRequired',
      'repo1-cipher-pass option required',
    );
    expect(error.hint).toMatch(/^repo1-cipher-type is 'aes-256-gcm': set PGSTASH_REPO1_CIPHER_PASS/);
    expect(error.hint).not.toMatch(/--repo1-cipher-pass/);
    // A passphrase without encryption is ignored.
    expect(load(PUSH, { env: { PGSTASH_REPO1_CIPHER_PASS: 'x' } }).repos[0]?.cipherPass).toBeUndefined();
  });

  it('checks that --repo names a configured repository', () => {
    expect(load(['--stanza=main', '--repo2-path=/r2', '--repo=2', 'info']).get('repo')).toBe(2);
    expectError(
      () => load(['--stanza=main', '--repo1-path=/r1', '--repo=2', 'info']),
      'optionInvalidValue',
      "'2' is not valid for 'repo' option: repo2-path is not set",
    );
    expectError(
      () => load(['--repo1-path=/r1', '--repo=5', 'info']),
      'optionInvalidValue',
      "'5' is out of range for 'repo' option: allowed 1 to 4",
    );
  });
});

describe('required options', () => {
  it('requires the stanza for every command but info, help and version', () => {
    for (const command of [
      'archive-push',
      'archive-get',
      'backup',
      'check',
      'expire',
      'restore',
      'stanza-create',
    ]) {
      const args = command === 'archive-push' ? ['X'] : command === 'archive-get' ? ['X', 'Y'] : [];
      const error = expectError(
        () => load(['--repo1-path=/r', command, ...args]),
        'optionRequired',
        'stanza option required',
      );
      expect(error.hint).toMatch(/--stanza/);
    }
    expect(load(['--repo1-path=/r', 'info']).get('stanza')).toBeUndefined();
  });

  it('requires pg1-path for backup, check, restore and stanza-create but not for archive-push', () => {
    for (const command of ['backup', 'check', 'restore', 'stanza-create']) {
      const error = expectError(
        () => load(['--stanza=main', '--repo1-path=/r', command]),
        'optionRequired',
        'pg1-path option required',
      );
      expect(error.hint).toMatch(/\[main\] section/);
    }
    expect(load(PUSH).pg.path).toBeUndefined();
  });

  it('requires a target for restore types that stop at one', () => {
    expectError(() => load([...RESTORE, '--type=lsn']), 'optionRequired', 'target option required');
  });

  it('throws optionRequired from requireStr', () => {
    const config = load(PUSH);
    expect(config.require('stanza')).toBe('main');
    expectError(() => config.require('pg1-path'), 'optionRequired', 'pg1-path option required');
  });
});

describe('config file', () => {
  it('is optional when it is the default and missing', () => {
    // The test relies on the machine having no /etc/pgstash/pgstash.conf.
    expect(existsSync('/etc/pgstash/pgstash.conf')).toBe(false);
    const config = loadConfig(PUSH, {});
    expect(config.get('config')).toBe('/etc/pgstash/pgstash.conf');
    expect(config.source('config')).toBe('default');
    expect(config.warnings).toEqual([]);
  });

  it('is required when given with --config or PGSTASH_CONFIG', () => {
    const missing = join(dir, 'missing.conf');
    const error = expectError(
      () => loadConfig([`--config=${missing}`, ...PUSH], {}),
      'config',
      `unable to open config file '${missing}': no such file (ENOENT)`,
    );
    expect(error.hint).toMatch(/--config/);
    expectError(
      () => loadConfig(PUSH, { PGSTASH_CONFIG: missing }),
      'config',
      `unable to open config file '${missing}': no such file (ENOENT)`,
    );
    const sub = join(dir, 'a-directory');
    mkdirSync(sub, { recursive: true });
    expectError(
      () => loadConfig([`--config=${sub}`, ...PUSH], {}),
      'config',
      `unable to read config file '${sub}': illegal operation on a directory (EISDIR)`,
    );
  });

  it('is found through PGSTASH_CONFIG, and --config wins over it', () => {
    const fromEnv = configFile('[global]\nprocess-max=5\n');
    const fromCli = configFile('[global]\nprocess-max=6\n');
    expect(loadConfig(PUSH, { PGSTASH_CONFIG: fromEnv }).get('process-max')).toBe(5);
    expect(loadConfig([`--config=${fromCli}`, ...PUSH], { PGSTASH_CONFIG: fromEnv }).get('process-max')).toBe(
      6,
    );
  });

  it('is not read with --no-config', () => {
    const path = configFile('[global]\nprocess-max=5\n');
    const config = loadConfig(['--no-config', ...PUSH], { PGSTASH_CONFIG: path });
    expect(config.get('process-max')).toBe(1);
    expect(config.passThrough()).toContain('--no-config');
  });

  it('rejects malformed files with error config', () => {
    expectError(
      () => load(PUSH, { config: '[global]\nprocess-max\n' }),
      'config',
      /^missing '=' at line 2 of config file '.*': 'process-max'$/,
    );
    expectError(
      () => load(PUSH, { config: 'process-max=2\n[global]\n' }),
      'config',
      /^key\/value found outside of any section at line 1 /,
    );
    expectError(
      () => load(PUSH, { config: '[global\nprocess-max=2\n' }),
      'config',
      /^invalid section header at line 1 /,
    );
    expectError(
      () => load(PUSH, { config: '[global] # comment\n' }),
      'config',
      /^invalid section header at line 1 /,
    );
    expectError(() => load(PUSH, { config: '[]\n' }), 'config', /^empty section name at line 1 /);
    expectError(() => load(PUSH, { config: '[global]\n=2\n' }), 'config', /^missing key at line 2 /);
    const secret = expectError(
      () => load(PUSH, { config: '[global]\nrepo1-cipher-pass secret\n' }),
      'config',
      /^missing '=' at line 2 /,
    );
    expect(secret.message).not.toMatch(/secret/);
  });

  it('accepts comments, blank lines, spaces around = and CRLF line ends', () => {
    const config = load(PUSH, {
      config: '# pgstash\r\n\r\n[global]\r\n; level\r\nprocess-max = 3\r\n  compress-type=gz  \r\n',
    });
    expect(config.get('process-max')).toBe(3);
    expect(config.get('compress-type')).toBe('gz');
    expect(config.warnings).toEqual([]);
  });

  it('refuses a key with an empty value and a single-value key given twice', () => {
    expectError(
      () => load(PUSH, { config: '[global]\nprocess-max=\n' }),
      'optionInvalidValue',
      "'' is not valid for 'process-max' option: must not be empty",
    );
    const error = expectError(
      () => load(PUSH, { config: '[global]\nprocess-max=2\nprocess-max=3\n' }),
      'optionInvalid',
      "option 'process-max' cannot be set multiple times",
    );
    expect(error.hint).toMatch(/section \[global\]/);
  });

  it('reads stanza names containing dots', () => {
    const config = load(['--stanza=db.prod', '--repo1-path=/r', 'check'], {
      config: '[db.prod]\npg1-path=/srv/prod\n',
    });
    expect(config.pg.path).toBe('/srv/prod');
  });

  it('warns about unknown keys, misplaced options and invalid sections, and ignores them', () => {
    const config = load(PUSH, {
      config: [
        '[global]',
        'bogus=1',
        'pg1-path=/global/pg',
        'stanza=other',
        '[global:archive-push]',
        'start-fast=y',
        '[global:bogus]',
        'process-max=4',
        '[main]',
        'pg1-port=6543',
        'output=json',
      ].join('\n'),
    });
    const path = `config file '${join(dir, `pgstash-${fileCount}.conf`)}'`;
    expect(config.warnings).toEqual([
      `${path} contains invalid option 'bogus' in section [global]`,
      `${path} contains stanza-only option 'pg1-path' in global section [global]: it is ignored`,
      `${path} contains command-line only option 'stanza' in section [global]: it is ignored`,
      `${path} contains option 'start-fast' in section [global:archive-push], which 'archive-push' does not take`,
      `${path} contains invalid section [global:bogus]: it is ignored`,
    ]);
    expect(config.pg.path).toBeUndefined();
    expect(config.get('stanza')).toBe('main');
    expect(config.pg.port).toBe(6543);
    expect(config.get('process-max')).toBe(1);
  });

  it("refuses an unquoted ';' or '#' in a value (the ini parser would cut it there), and reads quoted ones", () => {
    const error = expectError(
      () => load(PUSH, { config: '[global]\nrepo1-cipher-type=aes-256-gcm\nrepo1-cipher-pass=abc#def\n' }),
      'config',
      /^the value of 'repo1-cipher-pass' at line 3 of config file '.*' contains an unquoted ';' or '#'$/,
    );
    expect(error.message).not.toMatch(/abc/);
    expect(error.hint).toMatch(/quote the value/);
    expectError(
      () => load(PUSH, { config: '[global]\nlog-path=/var/log ; old\n' }),
      'config',
      /'log-path' at line 2/,
    );
    for (const value of ['"abc#def"', "'abc#def'", 'abc\\#def']) {
      const config = load(PUSH, {
        config: `[global]\nrepo1-cipher-type=aes-256-gcm\nrepo1-cipher-pass=${value}\n`,
      });
      expect(config.warnings).toEqual([]);
      expect(config.repos[0]?.cipherPass).toBe('abc#def');
    }
  });

  it('warns when a file with a passphrase grants group or others any access, and advises owner-only 600', () => {
    const text = '[global]\nrepo1-cipher-type=aes-256-gcm\nrepo1-cipher-pass=secret\n';
    for (const mode of [0o644, 0o640, 0o604, 0o620, 0o660]) {
      const path = configFile(text, mode);
      const config = loadConfig([`--config=${path}`, ...PUSH], {});
      expect(config.warnings).toHaveLength(1);
      expect(config.warnings[0]).toContain(`config file '${path}' holds 'repo1-cipher-pass'`);
      expect(config.warnings[0]).toContain(`mode 0${mode.toString(8)}`);
      expect(config.warnings[0]).toContain(`chmod 600 '${path}'`);
      // The advice never names a mode the rule warns about (it once suggested 640 while warning about 640).
      expect(config.warnings[0]?.replace(`mode 0${mode.toString(8)}`, '')).not.toMatch(/\b0?6[2-7][0-7]\b/);
      expect(config.warnings[0]).not.toMatch(/secret/);
    }
    const privateFile = configFile(text, 0o600);
    expect(loadConfig([`--config=${privateFile}`, ...PUSH], {}).warnings).toEqual([]);
    const noPassphrase = configFile('[global]\nprocess-max=2\n', 0o644);
    expect(loadConfig([`--config=${noPassphrase}`, ...PUSH], {}).warnings).toEqual([]);
  });
});

describe('reading values', () => {
  it('reports has() and source() per option, and unset options of other commands', () => {
    const config = load(PUSH, { env: { PGSTASH_PROCESS_MAX: '2' } });
    expect(config.has('stanza')).toBe(true);
    expect(config.source('stanza')).toBe('command-line');
    expect(config.has('compress-type')).toBe(false);
    expect(config.source('compress-type')).toBe('default');
    expect(config.source('pg1-host')).toBeUndefined();
    expect(config.source('process-max')).toBe('environment');
    // start-fast belongs to backup: unset here (reading it is a programming error, see the typed accessor tests).
    expect(config.has('start-fast')).toBe(false);
    expect(config.source('output')).toBeUndefined();
  });

  it('maps pg1 options', () => {
    const config = load(BACKUP, {
      config:
        '[main]\npg1-port=5433\npg1-socket-path=/run/postgresql\npg1-host=db1\npg1-user=backup\npg1-database=app\n',
    });
    expect(config.pg).toEqual({
      index: 1,
      path: '/pg',
      port: 5433,
      socketPath: '/run/postgresql',
      host: 'db1',
      user: 'backup',
      database: 'app',
    });
    expect(load(BACKUP).pg).toEqual({ index: 1, path: '/pg', port: 5432, database: 'postgres' });
  });

  it('asserts on unknown option names (names the types do not allow)', () => {
    const config = load(PUSH);
    // @ts-expect-error not an option
    expectError(() => config.get('bogus'), 'assert', "option 'bogus' does not exist");
    // @ts-expect-error the table entry, not a concrete name
    expectError(() => config.has('repo-path'), 'assert', "option 'repo-path' does not exist");
  });
});

describe('passThrough', () => {
  it('passes the config path and the command line and environment options archive-get takes, but not the stanza', () => {
    const file = configFile(
      '[global]\nrepo1-path=/file/repo\nlog-level-file=debug\nrepo1-cipher-type=aes-256-gcm\nrepo1-cipher-pass=x\n',
    );
    const config = loadConfig(
      [
        `--config=${file}`,
        '--stanza=main',
        '--pg1-path=/pg',
        'restore',
        '--type=immediate',
        '--delta',
        '--log-level-console=info',
      ],
      { PGSTASH_BUFFER_SIZE: '4MiB', PGSTASH_REPO2_PATH: '/env/repo2' },
    );
    // buffer-size does nothing for archive-get yet (see no-effect.test.ts): it is not passed on.
    expect(config.passThrough()).toEqual([
      `--config=${file}`,
      '--log-level-console=info',
      '--repo2-path=/env/repo2',
      '--pg1-path=/pg',
    ]);
  });

  it('formats booleans and hashes for a given command', () => {
    const config = load([...RESTORE, '--force', '--recovery-option=a=b', '--recovery-option=c=d=e']);
    const options = config.passThrough('restore');
    expect(options).toContain('--force');
    expect(options).toContain('--recovery-option=a=b');
    expect(options).toContain('--recovery-option=c=d=e');
    const negated = load([...BACKUP, '--no-archive-check']).passThrough('backup');
    expect(negated).toContain('--no-archive-check');
  });
});
