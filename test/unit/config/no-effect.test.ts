// Options that are listed but do nothing yet: help and the reference say so, and setting one for a command warns.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReference } from '../../../scripts/gen-docs.js';
import { COMMANDS, OPTIONS } from '../../../src/config/definition.js';
import { helpText } from '../../../src/config/help.js';
import { loadConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'pgstash-no-effect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function configFile(text: string): string {
  const path = join(dir, `pgstash-${++fileCount}.conf`);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

const PUSH = ['--stanza=main', '--repo1-path=/repo', 'archive-push', '/pg/pg_wal/000000010000000000000001'];
const BACKUP = ['--stanza=main', '--repo1-path=/repo', '--pg1-path=/pg', 'backup'];
const RESTORE = ['--stanza=main', '--repo1-path=/repo', '--pg1-path=/pg', 'restore'];

/** The warnings of a run with an optional config file text and environment. */
function warnings(argv: string[], options: { config?: string; env?: Record<string, string> } = {}) {
  const extra = options.config === undefined ? ['--no-config'] : [`--config=${configFile(options.config)}`];
  return loadConfig([...extra, ...argv], options.env ?? {}).warnings;
}

describe('the option table', () => {
  it('names in effectiveFor and valuesNotYetAvailable only commands, and values, the option takes', () => {
    for (const def of OPTIONS) {
      for (const command of def.effectiveFor ?? []) expect(def.commands, def.name).toContain(command);
      for (const [command, values] of Object.entries(def.valuesNotYetAvailable ?? {})) {
        expect(def.commands, def.name).toContain(command);
        for (const value of values)
          expect(def.commandAllowed?.[command as 'backup'] ?? def.allowed).toContain(value);
      }
    }
  });

  it('marks what M3 has still to make real', () => {
    const def = (name: string) => OPTIONS.find((option) => option.name === name);
    expect(COMMANDS.find((command) => command.name === 'expire')?.notYetAvailable).toBeUndefined();
    expect(def('buffer-size')?.effectiveFor).toEqual([]);
    expect(def('repo-retention-full')?.effectiveFor).toBeUndefined();
    expect(def('repo-retention-history')?.effectiveFor).toBeUndefined();
    expect(def('delta')?.effectiveFor).toBeUndefined();
    // Real for archive-push and archive-get since archive-async (M5).
    expect(def('process-max')?.effectiveFor).toBeUndefined();
    expect(def('type')?.valuesNotYetAvailable).toBeUndefined();
  });
});

describe('help and reference', () => {
  it('say "not yet available" where the command, option or value is listed', () => {
    expect(helpText()).toMatch(/^ +expire +Remove backups .*keeps\.$/m);
    expect(helpText('expire')).not.toMatch(/^ +--repo1-retention-history .*not yet available/m);
    expect(helpText('archive-push')).toMatch(/^ +--process-max .*\[default=1\]$/m);
    expect(helpText('backup')).toMatch(/^ +--process-max .*\[default=1\]$/m);
    expect(helpText('backup')).toMatch(/^ +--buffer-size .*\[not yet available, /m);
    expect(helpText('backup')).toMatch(/^ +--delta .*\[default=n\]$/m);
    expect(helpText('restore')).not.toMatch(/^ +--delta .*not yet available/m);
    expect(helpText('backup')).not.toMatch(/^ +--repo1-retention-history .*not yet available/m);
    expect(helpText('backup')).toMatch(/^ +--type .*\[default=incr\]$/m);
    expect(helpText('restore')).not.toMatch(/--type .*not yet available/);
    expect(helpText('archive-get', 'buffer-size')).toContain('availability: not yet available');
    expect(helpText('backup', 'type')).not.toContain('not yet available');

    const reference = renderReference();
    expect(reference).not.toContain('no longer keeps. (not yet available)');
    expect(reference).not.toContain('Not yet available: the command answers 67.');
    expect(reference).toContain('[`buffer-size`](#buffer-size) (not yet available)');
    expect(reference).toContain('| Availability | not yet available |');
    expect(reference).not.toContain('| Not yet available | backup: diff, incr |');
  });
});

describe('warnings for options that do nothing for the command run', () => {
  it('warns for an option set for this command (command line, command section) that does nothing here', () => {
    // process-max, the example of an option real for some commands only, became real for the archive commands.
    expect(warnings(['--process-max=4', ...PUSH])).toEqual([]);
    const path = join(dir, `pgstash-${fileCount + 1}.conf`);
    expect(warnings(PUSH, { config: '[global:archive-push]\nbuffer-size=4MiB\n' })).toEqual([
      `option 'buffer-size' set in config file '${path}' section [global:archive-push] has no effect on ` +
        'archive-push (not yet available there)',
    ]);
    // archive-timeout applies to archive-push since archive-async: no warning.
    expect(warnings(PUSH, { config: '[main:archive-push]\narchive-timeout=30\n' })).toEqual([]);
  });

  it('does not warn for an option set for every command that another command uses ([global], [stanza], environment)', () => {
    expect(warnings(PUSH, { config: '[global]\nprocess-max=4\n[main]\narchive-timeout=30\n' })).toEqual([]);
    expect(warnings(PUSH, { env: { PGSTASH_PROCESS_MAX: '4' } })).toEqual([]);
    expect(warnings(BACKUP, { config: '[global]\nprocess-max=4\narchive-timeout=30\n' })).toEqual([]);
    // An option of other commands only ([global] start-fast for archive-push) is ignored in silence, as before.
    expect(warnings(PUSH, { config: '[global]\nstart-fast=y\n' })).toEqual([]);
  });

  it('warns wherever it is set for an option that does nothing for any command yet', () => {
    const path = join(dir, `pgstash-${fileCount + 1}.conf`);
    expect(warnings(BACKUP, { config: '[global]\nbuffer-size=4MiB\n' })).toEqual([
      `option 'buffer-size' set in config file '${path}' section [global] has no effect on backup ` +
        '(not yet available there)',
    ]);
    expect(warnings(['--buffer-size=4MiB', ...PUSH])).toEqual([
      "option 'buffer-size' set on the command line has no effect on archive-push (not yet available there)",
    ]);
    expect(warnings(['--delta', ...BACKUP])).toEqual([]);
    expect(warnings(['--buffer-size=4MiB', ...BACKUP])).toHaveLength(1);
    // Set to what happens anyway: nothing to warn about.
    expect(warnings(['--no-delta', ...BACKUP])).toEqual([]);
    expect(warnings(['--process-max=4', ...BACKUP])).toEqual([]);
  });

  it('archive-push and archive-get, run by PostgreSQL for every WAL file, do not warn about a value set for every command', () => {
    // Their stderr goes to the server log: a [global] buffer-size would be warned about once per segment.
    const common =
      '[global]\nbuffer-size=4MiB\nprocess-max=4\ncompress-type=zst\n[main]\narchive-timeout=30\n';
    const GET = [
      '--stanza=main',
      '--repo1-path=/repo',
      'archive-get',
      '000000010000000000000001',
      'pg_wal/x',
    ];
    expect(warnings(PUSH, { config: common })).toEqual([]);
    expect(warnings(GET, { config: common })).toEqual([]);
    expect(warnings(PUSH, { env: { PGSTASH_BUFFER_SIZE: '4MiB' } })).toEqual([]);
    expect(warnings(GET, { env: { PGSTASH_BUFFER_SIZE: '4MiB' } })).toEqual([]);
    // The commands a DBA runs say it, once.
    expect(warnings(BACKUP, { config: common })).toHaveLength(1);
    // Set for archive-push alone, it is warned about: whoever set it there wants to know.
    expect(warnings(PUSH, { config: '[global:archive-push]\nbuffer-size=4MiB\n' })).toHaveLength(1);
  });

  it("restore does not hand an option archive-get ignores on to restore_command's archive-get", () => {
    const config = loadConfig(
      ['--no-config', '--buffer-size=4MiB', '--log-level-file=debug', ...RESTORE],
      {},
    );
    // Restore warns once that buffer-size does nothing; restore_command's archive-get does not get it.
    expect(config.warnings).toHaveLength(1);
    expect(config.passThrough('archive-get')).toEqual([
      '--no-config',
      '--log-level-file=debug',
      '--repo1-path=/repo',
      '--pg1-path=/pg',
    ]);
  });
});
