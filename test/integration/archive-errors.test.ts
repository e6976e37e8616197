// Bad input for stanza-create, archive-push and archive-get: each gives its documented exit code and message,
// and nothing partial or wrong is left behind.
import { chmod, chown, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgCluster } from '../harness/cluster.js';
import { postgresIds } from '../harness/postgres-user.js';
import { flipMiddleByte } from '../harness/damage.js';
import { runPgstash } from '../harness/pgstash.js';
import { configText, createStanzaSetup, writeConfig, type StanzaSetup } from '../harness/stanza.js';
import { createTempDir, removeTempDir } from '../harness/tmp.js';
import { setArchiveCommand, switchWal, waitArchived } from '../harness/wal.js';

async function findFiles(root: string, pattern: RegExp): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && pattern.test(entry.name)) found.push(join(entry.parentPath, entry.name));
  }
  return found;
}

describe('archive bad input', () => {
  let setup: StanzaSetup;
  let other: PgCluster;
  let archivedWal: string;

  beforeAll(async () => {
    setup = await createStanzaSetup({ compressType: 'zst', walSegmentSizeMb: 1 });
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql('create table t as select generate_series(1, 1000) id');
    archivedWal = await switchWal(setup);
    await waitArchived(setup, archivedWal);
    other = await PgCluster.create({ walSegmentSizeMb: 1 });
  });

  afterAll(async () => {
    await other?.destroy();
    await setup?.destroy();
  });

  it('stanza-create again is harmless', async () => {
    const result = await setup.pgstashOk(['stanza-create']);
    expect(result.stdout).toMatch(/already exists and is valid/);
  });

  it('refuses WAL from another cluster with 44', async () => {
    const walDir = join(other.dataDir, 'pg_wal');
    const segment = (await readdir(walDir)).find((name) => /^[0-9A-F]{24}$/.test(name));
    expect(segment).toBeDefined();
    const result = await setup.pgstash(['archive-push', join(walDir, segment!)]);
    expect(result.code).toBe(44);
    expect(result.stderr).toMatch(
      /\[044\]: WAL file '.*' \(version 15, system-id \d+\) does not match stanza 'main'/,
    );
  });

  it('pushing the same segment again warns and succeeds; different content fails with 45', async () => {
    const walPath = join(setup.cluster.dataDir, 'pg_wal', archivedWal);
    const again = await setup.pgstash(['archive-push', walPath]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already exists in the repo1 archive with the same checksum/);
    const copyDir = await createTempDir({ label: 'dup' });
    const changed = Buffer.from(await readFile(walPath));
    changed[changed.length - 1] = (changed[changed.length - 1] ?? 0) ^ 0xff;
    const changedPath = join(copyDir, archivedWal);
    await writeFile(changedPath, changed);
    await chmod(changedPath, 0o644);
    const result = await setup.pgstash(['archive-push', changedPath]);
    await removeTempDir(copyDir);
    expect(result.code).toBe(45);
    expect(result.stderr).toMatch(
      /\[045\]: WAL file '[0-9A-F]{24}' already exists in the repo1 archive with a different checksum/,
    );
  });

  it('archive-push of a history file that does not exist is error 55 naming it', async () => {
    const missing = join(setup.cluster.dataDir, 'pg_wal', '00000007.history');
    const result = await setup.pgstash(['archive-push', missing]);
    expect(result.code).toBe(55);
    expect(result.stderr).toContain(`[055]: WAL file '${missing}' does not exist`);
  });

  it('archive-get of a file not in the archive exits 1 quietly', async () => {
    const dest = join(setup.dir, 'missing');
    const result = await setup.pgstash(['archive-get', '00000009.history', dest]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    expect(existsSync(dest)).toBe(false);
  });

  it('a repository file with one flipped byte fails archive-get with 26 and writes nothing', async () => {
    const [file] = await findFiles(setup.repoPath, new RegExp(`^${archivedWal}-[0-9a-f]{64}\\.zst$`));
    expect(file).toBeDefined();
    const repair = await flipMiddleByte(file!, 0x01);
    try {
      const dest = join(setup.dir, 'flipped');
      const result = await setup.pgstash(['archive-get', archivedWal, dest]);
      expect(result.code).toBe(26);
      expect(result.stderr).toMatch(/\[026\]: '.*' is corrupt/);
      expect(existsSync(dest)).toBe(false);
      expect((await readdir(setup.dir)).filter((name) => name.includes('flipped'))).toEqual([]);
    } finally {
      await repair();
    }
  });

  it('two copies of a segment with different contents fail archive-get and archive-push with 45', async () => {
    const [file] = await findFiles(setup.repoPath, new RegExp(`^${archivedWal}-[0-9a-f]{64}\\.zst$`));
    expect(file).toBeDefined();
    // What a second cluster archiving to this stanza would leave: the same segment name, other content.
    const stranger = join(dirname(file!), `${archivedWal}-${'0'.repeat(64)}.zst`);
    await writeFile(stranger, 'another history');
    try {
      const dest = join(setup.dir, 'ambiguous');
      const get = await setup.pgstash(['archive-get', archivedWal, dest]);
      expect(get.code).toBe(45);
      expect(get.stderr).toContain(
        `[045]: WAL file '${archivedWal}' is in the repo1 archive with different contents: ${basename(stranger)}, ${basename(file!)}`,
      );
      expect(existsSync(dest)).toBe(false);
      const push = await setup.pgstash(['archive-push', join(setup.cluster.dataDir, 'pg_wal', archivedWal)]);
      expect(push.code).toBe(45);
    } finally {
      await rm(stranger);
    }
    const dest = join(setup.dir, 'unambiguous');
    expect((await setup.pgstash(['archive-get', archivedWal, dest])).code).toBe(0);
  });

  it('a repository inside the data directory is error 32 for stanza-create and check, and nothing is made', async () => {
    const inside = join(setup.cluster.dataDir, 'pgstash-repo');
    for (const command of ['stanza-create', 'check']) {
      const result = await setup.pgstash([command, `--repo1-path=${inside}`]);
      expect(result.code, result.stderr).toBe(32);
      expect(result.stderr).toContain(
        `[032]: repo1-path '${inside}' is inside pg1-path '${setup.cluster.dataDir}': each backup would copy the repository into itself`,
      );
    }
    expect(existsSync(inside)).toBe(false);
  });

  it('check: an archive_command that archives to another stanza is error 68 naming it, at once', async () => {
    const command = await setup.cluster.psql('show archive_command');
    expect(command).toContain('--stanza=main');
    const elsewhere = command.replace('--stanza=main', '--stanza=other');
    try {
      await setArchiveCommand(setup, elsewhere);
      const started = Date.now();
      const result = await setup.pgstash(['check', '--archive-timeout=30']);
      expect(result.code, result.stderr).toBe(68);
      expect(result.stderr).toContain(`archives to stanza 'other', not 'main'`);
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      await setup.cluster.psql('alter system reset archive_command; select pg_reload_conf()');
    }
  });

  it('a missing repo1-path is error 37 naming the option', async () => {
    const configPath = join(setup.dir, 'no-repo.conf');
    await writeConfig(configPath, configText({ main: { 'pg1-path': setup.cluster.dataDir } }));
    const result = await runPgstash(
      [`--config=${configPath}`, '--stanza=main', 'archive-get', archivedWal, '/tmp/x'],
      { as: 'postgres' },
    );
    expect(result.code).toBe(37);
    expect(result.stderr).toMatch(/repo1-path option required/);
  });

  it('a config file only root may read is error 27 for postgres, saying permission denied and who must read it', async () => {
    const configPath = join(setup.dir, 'root-only.conf');
    await writeFile(configPath, configText({ main: { 'pg1-path': setup.cluster.dataDir } }), { mode: 0o600 });
    const result = await runPgstash(
      [`--config=${configPath}`, '--stanza=main', 'archive-get', archivedWal, '/tmp/x'],
      { as: 'postgres' },
    );
    expect(result.code).toBe(27);
    expect(result.stderr).toContain(`unable to read config file '${configPath}': permission denied (EACCES)`);
    expect(result.stderr).toContain(
      'HINT: the user running pgstash (postgres, for archive_command) must be able to read it',
    );
  });

  it('a repository path that is not writable fails with its path in the message', async () => {
    const root = await createTempDir({ label: 'ro', owner: 'root', mode: 0o755 });
    const configPath = join(setup.dir, 'ro.conf');
    await writeConfig(
      configPath,
      configText({
        global: { 'repo1-path': join(root, 'repo'), 'lock-path': join(setup.dir, 'lock') },
        main: { 'pg1-path': setup.cluster.dataDir },
      }),
    );
    const result = await runPgstash([`--config=${configPath}`, '--stanza=main', 'stanza-create'], {
      as: 'postgres',
    });
    await removeTempDir(root);
    expect([47, 64]).toContain(result.code);
    expect(result.stderr).toContain(join(root, 'repo'));
    expect(result.stderr).toMatch(/permission denied/i);
  });

  it('a lock path another user created (root, mode 770) is error 50 naming it and lock-path, not an unexpected error', async () => {
    const rootOwned = await createTempDir({ label: 'rootlock', owner: 'root', mode: 0o755 });
    const lockPath = join(rootOwned, 'lock');
    await mkdir(lockPath, { mode: 0o770 });
    await chmod(lockPath, 0o770);
    const result = await setup.pgstash([`--lock-path=${lockPath}`, 'backup', '--type=full']);
    await removeTempDir(rootOwned);
    expect(result.code, result.stderr).toBe(50);
    expect(result.stderr).toContain(
      `unable to write lock file '${lockPath}/main-backup.lock': permission denied`,
    );
    expect(result.stderr).toContain('set lock-path');
    expect(result.stderr).not.toContain('unexpected error');
  });

  it('a log directory that cannot be created only warns: archive-get still works', async () => {
    const rootOwned = await createTempDir({ label: 'nolog', owner: 'root', mode: 0o755 });
    const logPath = join(rootOwned, 'log');
    const dest = join(setup.dir, 'with-bad-log');
    const result = await setup.pgstash([`--log-path=${logPath}`, 'archive-get', archivedWal, dest]);
    await removeTempDir(rootOwned);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`unable to open log file '${logPath}/main-archive-get.log'`);
    expect(existsSync(dest)).toBe(true);
  });

  it('writes JSON lines to the log file', async () => {
    const lines = (await readFile(join(setup.dir, 'log', 'main-archive-push.log'), 'utf8'))
      .trim()
      .split('\n');
    const entries = lines.map((line) => JSON.parse(line) as { level: string; msg: string; command: string });
    expect(
      entries.some(
        (entry) => entry.command === 'archive-push' && /command end: completed successfully/.test(entry.msg),
      ),
    ).toBe(true);
  });

  it('an unknown option is error 31', async () => {
    const result = await setup.pgstash(['--bogus-option=1', 'info']);
    expect(result.code).toBe(31);
    expect(result.stderr).toMatch(/invalid option '--bogus-option/);
  });

  it('--repo1-cipher-pass on the command line is refused with 31', async () => {
    const result = await setup.pgstash(['--repo1-cipher-pass=secret', 'info']);
    expect(result.code).toBe(31);
    expect(result.stderr).toMatch(/'repo1-cipher-pass' is not allowed on the command-line/);
    expect(result.stderr).not.toContain('secret');
  });
});

describe('encrypted repository bad input', () => {
  let setup: StanzaSetup;
  let archivedWal: string;

  beforeAll(async () => {
    setup = await createStanzaSetup({
      compressType: 'lz4',
      cipherPass: 'the right passphrase',
      walSegmentSizeMb: 1,
    });
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    archivedWal = await switchWal(setup);
    await waitArchived(setup, archivedWal);
  });

  afterAll(async () => {
    await setup?.destroy();
  });

  it('stores nothing in clear: WAL files, archive.info and the key file carry no plain content', async () => {
    const [file] = await findFiles(setup.repoPath, new RegExp(`^${archivedWal}-`));
    const head = (await readFile(file!)).subarray(0, 8).toString('latin1');
    expect(head).toBe('PGSTENC1');
    const info = await readFile(join(setup.repoPath, 'archive', 'main', 'archive.info'));
    expect(info.subarray(0, 8).toString('latin1')).toBe('PGSTENC1');
    expect((await stat(file!)).mode & 0o777).toBe(0o640);
  });

  it('never writes the passphrase to a log file', async () => {
    const logDir = join(setup.dir, 'log');
    for (const name of await readdir(logDir)) {
      expect(await readFile(join(logDir, name), 'utf8')).not.toContain('the right passphrase');
    }
  });

  it('a wrong passphrase is error 95 and writes nothing', async () => {
    const dest = join(setup.dir, 'wrongpass');
    const result = await setup.pgstash(['archive-get', archivedWal, dest], {
      env: { PGSTASH_REPO1_CIPHER_PASS: 'not the passphrase' },
    });
    expect(result.code).toBe(95);
    expect(result.stderr).toMatch(/\[095\]/);
    expect(result.stderr).not.toContain('not the passphrase');
    expect(existsSync(dest)).toBe(false);
  });

  it('info with a wrong passphrase fails with 95 naming the repository and the passphrase option', async () => {
    for (const args of [['info'], ['--output=json', 'info']]) {
      const result = await setup.pgstash(args, { env: { PGSTASH_REPO1_CIPHER_PASS: 'not the passphrase' } });
      expect(result.code, result.stdout).toBe(95);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(
        /\[095\]: repo1: the passphrase in 'repo1-cipher-pass' does not unwrap the key of stanza 'main'/,
      );
      expect(result.stderr).toMatch(
        /HINT: .*repo1-cipher-pass.*the passphrase stanza 'main' was created with/,
      );
      expect(result.stderr).not.toContain('not the passphrase');
    }
    // Without --stanza, info lists every stanza and fails the same way.
    const all = await runPgstash([`--config=${setup.configPath}`, 'info'], {
      as: 'postgres',
      env: { PGSTASH_REPO1_CIPHER_PASS: 'not the passphrase' },
    });
    expect(all.code).toBe(95);
    expect((await setup.pgstash(['info'])).code).toBe(0);
  });

  it('one flipped bit in an encrypted file is detected (95) and writes nothing', async () => {
    const [file] = await findFiles(setup.repoPath, new RegExp(`^${archivedWal}-`));
    const original = await readFile(file!);
    const damaged = Buffer.from(original);
    damaged[damaged.length - 20] = (damaged[damaged.length - 20] ?? 0) ^ 0x10;
    await writeFile(file!, damaged);
    try {
      const dest = join(setup.dir, 'flipbit');
      const result = await setup.pgstash(['archive-get', archivedWal, dest]);
      expect(result.code).toBe(95);
      expect(existsSync(dest)).toBe(false);
    } finally {
      await writeFile(file!, original);
    }
  });

  it('a configuration without the cipher refuses this stanza in every command with 95 and writes nothing', async () => {
    // The stanza's encryption is found from the first file each command reads (no lookup of stanza.key but in
    // stanza-create and verify): the same error whichever finds it.
    const plainConfig = join(setup.dir, 'plain.conf');
    const text = await readFile(setup.configPath, 'utf8');
    await writeConfig(
      plainConfig,
      text
        .split('\n')
        .filter((line) => !line.startsWith('repo1-cipher-'))
        .join('\n'),
    );
    const walCopy = join(setup.dir, 'plain-wal', archivedWal);
    const restoreDir = join(setup.dir, 'plain-restore');
    const { uid, gid } = postgresIds();
    for (const made of [dirname(walCopy), restoreDir]) {
      await mkdir(made, { recursive: true, mode: 0o700 });
      await chown(made, uid, gid);
    }
    await setup.pgstashOk(['archive-get', archivedWal, walCopy]);
    const tree = async (): Promise<string[]> =>
      Promise.all(
        (await readdir(setup.repoPath, { withFileTypes: true, recursive: true }))
          .filter((entry) => entry.isFile())
          .map(async (entry) => {
            const path = join(entry.parentPath, entry.name);
            const { size, mtimeMs } = await stat(path);
            return `${path} ${size} ${mtimeMs}`;
          }),
      ).then((lines) => lines.sort());
    const before = await tree();
    const commands = [
      ['stanza-create'],
      ['archive-push', walCopy],
      ['archive-get', archivedWal, join(setup.dir, 'plain-get')],
      ['backup', '--type=full', '--start-fast'],
      ['info'],
      ['--output=json', 'info'],
      [`--pg1-path=${restoreDir}`, 'restore'],
      ['expire', '--repo1-retention-full=1'],
      ['check'],
      ['annotate', '--set=20261207-000000F', '--annotation=a=b'],
      ['verify'],
    ];
    for (const args of commands) {
      const result = await runPgstash([`--config=${plainConfig}`, '--stanza=main', ...args], {
        as: 'postgres',
      });
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(95);
      expect(result.stderr, args.join(' ')).toMatch(/\[095\]: repo1 stanza 'main' is encrypted/);
      expect(result.stderr, args.join(' ')).toMatch(
        /HINT: set repo1-cipher-type=aes-256-gcm and repo1-cipher-pass/,
      );
    }
    expect(existsSync(join(setup.dir, 'plain-get'))).toBe(false);
    expect(await readdir(restoreDir)).toEqual([]);
    expect(await tree()).toEqual(before);
  });

  it('a repository that another cluster owns refuses stanza-create', async () => {
    const other = await PgCluster.create({ walSegmentSizeMb: 1 });
    try {
      const configPath = join(setup.dir, 'other.conf');
      await writeConfig(
        configPath,
        configText({
          global: {
            'repo1-path': setup.repoPath,
            'repo1-cipher-type': 'aes-256-gcm',
            'repo1-cipher-pass': 'the right passphrase',
            'lock-path': join(setup.dir, 'lock2'),
          },
          main: { 'pg1-path': other.dataDir },
        }),
      );
      await mkdir(join(setup.dir, 'lock2'), { recursive: true });
      await rm(join(setup.dir, 'lock2'), { recursive: true });
      const result = await runPgstash([`--config=${configPath}`, '--stanza=main', 'stanza-create'], {
        as: 'postgres',
      });
      expect(result.code).toBe(28);
      expect(result.stderr).toMatch(/belongs to another cluster/);
    } finally {
      await other.destroy();
    }
  });
});
