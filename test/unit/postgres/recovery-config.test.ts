// Tests of the recovery settings a restore writes: validation, the file edits, and PostgreSQL 15 reading them back.
import { appendFile, chmod, chown, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgStashError, type ErrorKind } from '../../../src/common/errors.js';
import {
  quoteGucValue,
  recoverySettingLines,
  writeRecoveryConfig,
  type RecoverySettings,
} from '../../../src/postgres/recovery-config.js';
import { PgCluster, pgBin } from '../../harness/cluster.js';
import { exec } from '../../harness/exec.js';
import { postgresIds } from '../../harness/postgres-user.js';
import { createTempDir, removeAllTempDirs } from '../../harness/tmp.js';

afterAll(async () => {
  await removeAllTempDirs();
});

const RESTORE = 'pgstash --stanza=main archive-get %f "%p"';

function expectFailure(
  settings: RecoverySettings,
  { kind, message }: { kind: ErrorKind; message: string | RegExp },
): void {
  let caught: unknown;
  try {
    recoverySettingLines(settings);
  } catch (error) {
    caught = error;
  }
  expect(isPgStashError(caught, kind), `expected ${kind}, got ${String(caught)}`).toBe(true);
  if (typeof message === 'string') expect((caught as Error).message).toBe(message);
  else expect((caught as Error).message).toMatch(message);
}

/**
 * Reads a quoted configuration value back the way PostgreSQL's scanner does (GUC_scanstr): '' is a quote,
 * a backslash escapes the next character (\n, \t, ... and octal digits are special).
 */
function unquote(quoted: string): string {
  expect(quoted.startsWith("'") && quoted.endsWith("'")).toBe(true);
  const inner = quoted.slice(1, -1);
  let out = '';
  for (let index = 0; index < inner.length; index++) {
    const char = inner[index];
    if (char === "'") {
      expect(inner[index + 1]).toBe("'");
      out += "'";
      index++;
    } else if (char === '\\') {
      const next = inner[index + 1];
      const special: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (next !== undefined && /[0-7]/.test(next)) throw new Error('octal escape in quoted output');
      out += next === undefined ? '' : (special[next] ?? next);
      index++;
    } else {
      out += char;
    }
  }
  return out;
}

describe('quoteGucValue', () => {
  it('quotes, doubling single quotes and backslashes', () => {
    expect(quoteGucValue('cp %p /a')).toBe("'cp %p /a'");
    expect(quoteGucValue("it's")).toBe("'it''s'");
    expect(quoteGucValue('a\\b')).toBe("'a\\\\b'");
    expect(quoteGucValue('')).toBe("''");
  });

  it('reads back as the same value under PostgreSQL quoting rules', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (value) => {
        expect(unquote(quoteGucValue(value))).toBe(value);
      }),
    );
  });
});

describe('recoverySettingLines', () => {
  it('writes restore_command alone for the default type', () => {
    expect(recoverySettingLines({ type: 'default', restoreCommand: RESTORE })).toEqual({
      restore_command: RESTORE,
    });
  });

  it('writes each target type to its setting', () => {
    expect(
      recoverySettingLines({ type: 'immediate', restoreCommand: RESTORE, targetAction: 'promote' }),
    ).toEqual({
      restore_command: RESTORE,
      recovery_target: 'immediate',
      recovery_target_action: 'promote',
    });
    expect(
      recoverySettingLines({
        type: 'time',
        target: '2026-11-21 10:15:00+00',
        restoreCommand: RESTORE,
        targetExclusive: true,
        targetAction: 'pause',
        targetTimeline: 'latest',
      }),
    ).toEqual({
      restore_command: RESTORE,
      recovery_target_time: '2026-11-21 10:15:00+00',
      recovery_target_inclusive: 'false',
      recovery_target_action: 'pause',
      recovery_target_timeline: 'latest',
    });
    expect(recoverySettingLines({ type: 'lsn', target: '0/3000060', restoreCommand: RESTORE })).toEqual({
      restore_command: RESTORE,
      recovery_target_lsn: '0/3000060',
    });
    expect(
      recoverySettingLines({ type: 'xid', target: '1234', restoreCommand: RESTORE, targetExclusive: false }),
    ).toEqual({
      restore_command: RESTORE,
      recovery_target_xid: '1234',
    });
    expect(recoverySettingLines({ type: 'name', target: 'before upgrade', restoreCommand: RESTORE })).toEqual(
      {
        restore_command: RESTORE,
        recovery_target_name: 'before upgrade',
      },
    );
    expect(recoverySettingLines({ type: 'standby', restoreCommand: RESTORE, targetTimeline: '3' })).toEqual({
      restore_command: RESTORE,
      recovery_target_timeline: '3',
    });
    expect(recoverySettingLines({ type: 'preserve', restoreCommand: RESTORE })).toEqual({});
  });

  it('adds extra recovery options, which win over generated ones', () => {
    expect(
      recoverySettingLines({
        type: 'standby',
        restoreCommand: RESTORE,
        extraOptions: { primary_conninfo: 'host=db1 user=replicator', restore_command: 'cp /arch/%f %p' },
      }),
    ).toEqual({ restore_command: 'cp /arch/%f %p', primary_conninfo: 'host=db1 user=replicator' });
  });

  it("turns archiving off with archive-mode 'off', never for --type=preserve", () => {
    expect(recoverySettingLines({ type: 'default', restoreCommand: RESTORE, archiveMode: 'off' })).toEqual({
      restore_command: RESTORE,
      archive_mode: 'off',
    });
    expect(
      recoverySettingLines({ type: 'default', restoreCommand: RESTORE, archiveMode: 'preserve' }),
    ).toEqual({
      restore_command: RESTORE,
    });
    expectFailure(
      { type: 'preserve', restoreCommand: RESTORE, archiveMode: 'off' },
      { kind: 'optionInvalidValue', message: 'archive-mode=off is not valid for --type=preserve' },
    );
  });

  it('requires a target for time, lsn, xid and name', () => {
    for (const type of ['time', 'lsn', 'xid', 'name'] as const) {
      expectFailure(
        { type, restoreCommand: RESTORE },
        { kind: 'optionRequired', message: `target option required for --type=${type}` },
      );
      expectFailure(
        { type, target: '', restoreCommand: RESTORE },
        { kind: 'optionRequired', message: `target option required for --type=${type}` },
      );
    }
  });

  it('refuses a target, target-action or target-exclusive where they mean nothing', () => {
    for (const type of ['default', 'immediate', 'standby', 'preserve'] as const) {
      expectFailure(
        { type, target: '0/1', restoreCommand: RESTORE },
        { kind: 'optionInvalidValue', message: `target option not valid for --type=${type}` },
      );
    }
    for (const type of ['default', 'standby', 'preserve'] as const) {
      expectFailure(
        { type, targetAction: 'promote', restoreCommand: RESTORE },
        { kind: 'optionInvalidValue', message: `target-action option not valid for --type=${type}` },
      );
    }
    for (const type of ['default', 'immediate', 'name', 'standby'] as const) {
      const target = type === 'name' ? { target: 'x' } : {};
      expectFailure(
        { type, ...target, targetExclusive: true, restoreCommand: RESTORE },
        { kind: 'optionInvalidValue', message: `target-exclusive option not valid for --type=${type}` },
      );
    }
    expectFailure(
      { type: 'preserve', targetTimeline: 'latest', restoreCommand: RESTORE },
      { kind: 'optionInvalidValue', message: /not valid for --type=preserve/ },
    );
  });

  it('checks the target format of each type', () => {
    for (const target of ['0/3000060', 'FFFFFFFF/FFFFFFFF', '16/b374d848']) {
      expect(() => recoverySettingLines({ type: 'lsn', target, restoreCommand: RESTORE })).not.toThrow();
    }
    for (const target of ['0/', '3000060', '0/3000060/1', '123456789/0', 'x/1']) {
      expectFailure(
        { type: 'lsn', target, restoreCommand: RESTORE },
        { kind: 'optionInvalidValue', message: `invalid target '${target}' for --type=lsn` },
      );
    }
    for (const target of ['1', '4294967295', '8589934592']) {
      expect(() => recoverySettingLines({ type: 'xid', target, restoreCommand: RESTORE })).not.toThrow();
    }
    for (const target of ['0', '-5', '12a', '1.5', ' 12', '18446744073709551616']) {
      expectFailure(
        { type: 'xid', target, restoreCommand: RESTORE },
        { kind: 'optionInvalidValue', message: `invalid target '${target}' for --type=xid` },
      );
    }
    expectFailure(
      { type: 'name', target: 'n'.repeat(64), restoreCommand: RESTORE },
      { kind: 'optionInvalidValue', message: /longer than 63 bytes/ },
    );
    for (const timeline of ['current', 'latest', '1', '42', '0x1F']) {
      expect(() =>
        recoverySettingLines({ type: 'default', targetTimeline: timeline, restoreCommand: RESTORE }),
      ).not.toThrow();
    }
    for (const timeline of ['0', '-1', 'newest', '4294967296', '1x']) {
      expectFailure(
        { type: 'default', targetTimeline: timeline, restoreCommand: RESTORE },
        { kind: 'optionInvalidValue', message: `invalid target-timeline '${timeline}'` },
      );
    }
  });

  it('writes times with an explicit offset, and refuses impossible or unresolved ones', () => {
    for (const target of TIMES_POSTGRES_ACCEPTS) {
      expect(
        () => recoverySettingLines({ type: 'time', target, restoreCommand: RESTORE }),
        target,
      ).not.toThrow();
    }
    for (const target of [...TIMES_POSTGRES_REFUSES, ...TIMES_NOT_RESOLVED]) {
      expectFailure(
        { type: 'time', target, restoreCommand: RESTORE },
        {
          kind: 'optionInvalidValue',
          message: new RegExp(
            `^invalid --target '${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' for --type=time: `,
          ),
        },
      );
    }
  });

  it('refuses values and names that cannot be written to a configuration file', () => {
    expectFailure(
      { type: 'default', restoreCommand: 'cp %p\n/x' },
      { kind: 'optionInvalidValue', message: /line breaks/ },
    );
    expectFailure(
      { type: 'default', restoreCommand: '' },
      { kind: 'optionRequired', message: /restore command required/ },
    );
    expectFailure(
      { type: 'default', restoreCommand: RESTORE, extraOptions: { 'bad name': 'x' } },
      { kind: 'optionInvalidValue', message: "invalid recovery option name 'bad name'" },
    );
    expectFailure(
      { type: 'name', target: 'a\rb', restoreCommand: RESTORE },
      { kind: 'optionInvalidValue', message: /line breaks/ },
    );
  });
});

/**
 * Times written as they are: with an explicit UTC offset, the one form PostgreSQL 15 reads as the same instant
 * whatever its timezone (the real server test below proves it reads them).
 */
const TIMES_POSTGRES_ACCEPTS = [
  '2026-11-21 10:15:00+00',
  '2026-11-21 10:15:00.123456+05:30',
  '2026-11-21T10:15:00+00',
  '2026-11-21 10:15:00+5',
  '2026-11-21 10:15:00 +05:30:15',
  '2016-12-31 23:59:60+00',
  '2026-11-21 10:15:00-0800',
];

/** Time formats the writer refuses, and so does PostgreSQL 15 (also proven below). */
const TIMES_POSTGRES_REFUSES = [
  '2026-13-01 10:00:00+00',
  '2026-02-30 10:00:00+00',
  '2026-11-21 25:00:00+00',
  '2026-11-21 10:61:00+00',
  '2026-11-21 10:15:00 Mars/Olympus_Mons',
  // PostgreSQL reads recovery_target_time before its abbreviation table: Z and PST are unknown there (restore
  // reads them itself and writes the instant with an offset).
  '2026-11-21T10:15:00Z',
  '2026-11-21 10:15:00 PST',
  '2026-11-21 10:15:00 IST',
  '2026-11-21 24:00:01',
  '2025-02-29 10:00:00',
  'now',
  '2026-11-21 10:15:00 +00 extra words',
  'yesterday at noon',
];

/** Times PostgreSQL reads, but in its timezone or abbreviation table: the writer wants the instant resolved. */
const TIMES_NOT_RESOLVED = [
  '2026-11-21 10:15:00',
  '2026-11-21 10:15:00 Europe/Paris',
  '2024-02-29 23:59:59 EST',
  'Nov 21 2026 10:15:00 GMT',
];

describe('writeRecoveryConfig', () => {
  it('replaces earlier recovery settings, keeps the rest, and creates recovery.signal', async () => {
    const pgPath = await createTempDir({ owner: 'root', label: 'recovery' });
    const conf = join(pgPath, 'postgresql.auto.conf');
    await writeFile(
      conf,
      [
        '# Do not edit this file manually!',
        "work_mem = '64MB'",
        "restore_command = 'cp /old/%f %p'",
        "recovery_target_time = '2020-01-01 00:00:00+00'",
        "Recovery_Target_Name = 'old'",
        "recovery_target_action='shutdown'",
        "recovery_target_inclusive 'false'",
        "# recovery_target_lsn = '0/1' (a comment stays)",
        "primary_conninfo = 'host=old'",
        "restore_command_extra = 'not ours'",
        '',
      ].join('\n'),
    );
    await chmod(conf, 0o640);
    const { uid, gid } = postgresIds();
    await chown(conf, uid, gid);
    await writeFile(join(pgPath, 'standby.signal'), '');

    await writeRecoveryConfig(pgPath, {
      type: 'xid',
      target: '1234',
      targetAction: 'promote',
      restoreCommand: RESTORE,
      extraOptions: { primary_conninfo: "host=new application_name='x'" },
    });
    expect(await readFile(conf, 'utf8')).toBe(
      [
        '# Do not edit this file manually!',
        "work_mem = '64MB'",
        "# recovery_target_lsn = '0/1' (a comment stays)",
        "restore_command_extra = 'not ours'",
        '# Recovery settings written by pgstash restore (--type=xid)',
        `restore_command = 'pgstash --stanza=main archive-get %f "%p"'`,
        "recovery_target_xid = '1234'",
        "recovery_target_action = 'promote'",
        "primary_conninfo = 'host=new application_name=''x'''",
        '',
      ].join('\n'),
    );
    const confStats = await stat(conf);
    expect(confStats.mode & 0o7777).toBe(0o640);
    expect([confStats.uid, confStats.gid]).toEqual([uid, gid]);
    expect(await readFile(join(pgPath, 'recovery.signal'), 'utf8')).toBe('');
    expect(existsSync(join(pgPath, 'standby.signal'))).toBe(false);

    // A second restore into the same directory leaves one set of settings, not two.
    await writeRecoveryConfig(pgPath, { type: 'default', restoreCommand: 'cp /arch/%f %p' });
    const text = await readFile(conf, 'utf8');
    expect(text.match(/^restore_command\s*=/gm)).toHaveLength(1);
    expect(text).not.toMatch(/^recovery_target/m);
    expect(text).toContain("primary_conninfo = 'host=new application_name=''x'''");
  });

  it('creates postgresql.auto.conf and the signal file with the data directory owner and mode', async () => {
    const { uid, gid } = postgresIds();
    for (const [dirMode, fileMode] of [
      [0o700, 0o600],
      [0o750, 0o640],
    ] as const) {
      const pgPath = await createTempDir({ owner: 'postgres', mode: dirMode, label: 'recovery' });
      await writeFile(join(pgPath, 'recovery.signal'), '');
      await writeRecoveryConfig(pgPath, { type: 'standby', restoreCommand: RESTORE });
      const conf = join(pgPath, 'postgresql.auto.conf');
      expect(await readFile(conf, 'utf8')).toBe(
        '# Do not edit this file manually!\n# It will be overwritten by the ALTER SYSTEM command.\n' +
          '# Recovery settings written by pgstash restore (--type=standby)\n' +
          `restore_command = 'pgstash --stanza=main archive-get %f "%p"'\n`,
      );
      for (const path of [conf, join(pgPath, 'standby.signal')]) {
        const stats = await stat(path);
        expect(stats.mode & 0o7777, path).toBe(fileMode);
        expect([stats.uid, stats.gid]).toEqual([uid, gid]);
      }
      expect(existsSync(join(pgPath, 'recovery.signal'))).toBe(false);
    }
  });

  it('leaves everything untouched for --type=preserve', async () => {
    const pgPath = await createTempDir({ owner: 'root', label: 'recovery' });
    const conf = join(pgPath, 'postgresql.auto.conf');
    await writeFile(conf, "restore_command = 'cp /kept/%f %p'\n");
    await writeFile(join(pgPath, 'standby.signal'), 'kept');
    const before = await stat(conf);
    await writeRecoveryConfig(pgPath, { type: 'preserve', restoreCommand: RESTORE });
    expect(await readFile(conf, 'utf8')).toBe("restore_command = 'cp /kept/%f %p'\n");
    expect((await stat(conf)).mtimeMs).toBe(before.mtimeMs);
    expect(await readFile(join(pgPath, 'standby.signal'), 'utf8')).toBe('kept');
    expect(existsSync(join(pgPath, 'recovery.signal'))).toBe(false);
  });

  it('fails before writing anything when the settings are invalid or the directory is missing', async () => {
    const pgPath = await createTempDir({ owner: 'root', label: 'recovery' });
    await expect(
      writeRecoveryConfig(pgPath, { type: 'lsn', target: 'nope', restoreCommand: RESTORE }),
    ).rejects.toThrow("invalid target 'nope' for --type=lsn");
    expect(existsSync(join(pgPath, 'postgresql.auto.conf'))).toBe(false);
    expect(existsSync(join(pgPath, 'recovery.signal'))).toBe(false);
    const missing = join(pgPath, 'missing');
    await expect(
      writeRecoveryConfig(missing, { type: 'default', restoreCommand: RESTORE }),
    ).rejects.toMatchObject({
      kind: 'pathMissing',
    });
  });
});

describe('recovery settings read by PostgreSQL 15 (postgres -C)', () => {
  let cluster: PgCluster;

  beforeAll(async () => {
    cluster = await PgCluster.create();
  });

  afterAll(async () => {
    await cluster.destroy();
  });

  /** What the server reads for `name` from the data directory's configuration files. */
  async function serverValue(name: string): Promise<string> {
    const result = await exec(pgBin('postgres'), ['-C', name, '-D', cluster.dataDir], { asPostgres: true });
    if (result.code !== 0) throw new Error(`postgres -C ${name} failed: ${result.stderr}`);
    return result.stdout.replace(/\n$/, '');
  }

  it('reads back every setting we write, quotes and backslashes included', async () => {
    const restoreCommand = `pgstash --stanza='it''s' archive-get %f "%p" || printf 'a\\tb\\\\n' >&2`;
    await writeRecoveryConfig(cluster.dataDir, {
      type: 'time',
      target: '2026-11-21 10:15:00+00',
      targetAction: 'promote',
      targetExclusive: true,
      targetTimeline: 'current',
      restoreCommand,
      extraOptions: { recovery_end_command: 'echo \\ end \u00e9' },
    });
    expect(await serverValue('restore_command')).toBe(restoreCommand);
    expect(await serverValue('recovery_target_time')).toBe('2026-11-21 10:15:00+00');
    expect(await serverValue('recovery_target_action')).toBe('promote');
    expect(await serverValue('recovery_target_inclusive')).toBe('off');
    expect(await serverValue('recovery_target_timeline')).toBe('current');
    expect(await serverValue('recovery_end_command')).toBe('echo \\ end \u00e9');
    expect(existsSync(join(cluster.dataDir, 'recovery.signal'))).toBe(true);
  });

  it("reads archive_mode = 'off' where the backup had archiving on", async () => {
    const conf = join(cluster.dataDir, 'postgresql.conf');
    const original = await readFile(conf, 'utf8');
    try {
      await appendFile(conf, 'archive_mode = on\n');
      expect(await serverValue('archive_mode')).toBe('on');
      await writeRecoveryConfig(cluster.dataDir, {
        type: 'default',
        restoreCommand: RESTORE,
        archiveMode: 'off',
      });
      expect(await serverValue('archive_mode')).toBe('off');
    } finally {
      await writeFile(conf, original);
    }
  });

  it('reads each target type, replacing the previous restore settings', async () => {
    const cases: [RecoverySettings, string, string][] = [
      [{ type: 'lsn', target: '0/3000060', restoreCommand: RESTORE }, 'recovery_target_lsn', '0/3000060'],
      [{ type: 'xid', target: '8589934592', restoreCommand: RESTORE }, 'recovery_target_xid', '8589934592'],
      [
        { type: 'name', target: "it's a name", restoreCommand: RESTORE },
        'recovery_target_name',
        "it's a name",
      ],
      [{ type: 'immediate', restoreCommand: RESTORE }, 'recovery_target', 'immediate'],
      [
        { type: 'standby', restoreCommand: RESTORE, targetTimeline: '0x1F' },
        'recovery_target_timeline',
        '0x1F',
      ],
    ];
    for (const [settings, name, value] of cases) {
      await writeRecoveryConfig(cluster.dataDir, settings);
      expect(await serverValue(name), name).toBe(value);
      // The earlier restore's settings are gone: the server falls back to the built-in defaults.
      if (name !== 'recovery_target_time') expect(await serverValue('recovery_target_time')).toBe('');
      expect(await serverValue('recovery_target_inclusive')).toBe('on');
    }
    expect(existsSync(join(cluster.dataDir, 'standby.signal'))).toBe(true);
    expect(existsSync(join(cluster.dataDir, 'recovery.signal'))).toBe(false);
  });

  it('accepts every time format our check accepts', async () => {
    for (const target of TIMES_POSTGRES_ACCEPTS) {
      await writeRecoveryConfig(cluster.dataDir, { type: 'time', target, restoreCommand: RESTORE });
      expect(await serverValue('recovery_target_time'), target).toBe(target);
    }
  });

  it('refuses every time format our check refuses', async () => {
    const conf = join(cluster.dataDir, 'postgresql.auto.conf');
    const original = await readFile(conf, 'utf8');
    try {
      for (const target of TIMES_POSTGRES_REFUSES) {
        // Written by hand: writeRecoveryConfig would refuse it before PostgreSQL could.
        await writeFile(conf, `recovery_target_time = ${quoteGucValue(target)}\n`);
        const result = await exec(pgBin('postgres'), ['-C', 'recovery_target_time', '-D', cluster.dataDir], {
          asPostgres: true,
        });
        expect(result.code, target).not.toBe(0);
        expect(result.stderr, target).toMatch(/recovery_target_time|time zone/);
      }
    } finally {
      await writeFile(conf, original);
    }
  });

  it('starts a server in standby mode from what we wrote', async () => {
    await writeRecoveryConfig(cluster.dataDir, { type: 'standby', restoreCommand: 'false' });
    await cluster.start();
    try {
      expect(await cluster.psql('select pg_is_in_recovery()')).toBe('t');
      expect(await cluster.psql('show restore_command')).toBe('false');
    } finally {
      await cluster.stop();
    }
  });
});
