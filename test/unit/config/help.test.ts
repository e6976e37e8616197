// Tests help and version text: every command listed, each command's options, option details, version.
import { errorOf } from '../../harness/errors.js';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMANDS, OPTIONS } from '../../../src/config/definition.js';
import { displayName } from '../../../src/config/describe.js';
import { helpText, versionText } from '../../../src/config/help.js';

const packageJson = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('helpText', () => {
  it('lists every command with its summary', () => {
    const text = helpText();
    for (const command of COMMANDS) {
      expect(text).toMatch(
        new RegExp(
          `^ +${command.name} +${command.summary.replace(/[.()]/g, '\\$&')}${command.notYetAvailable === true ? ' \\(not yet available\\)' : ''}$`,
          'm',
        ),
      );
    }
    expect(text).toContain(`pgstash ${packageJson.version}`);
  });

  it("lists a command's options, and only those", () => {
    for (const command of COMMANDS) {
      const text = helpText(command.name);
      expect(text).toContain(command.summary);
      for (const def of OPTIONS) {
        const line = new RegExp(`^ +--${displayName(def)} +${def.summary.replace(/[.()]/g, '\\$&')}`, 'm');
        if (def.commands.includes(command.name)) expect(text, `${command.name} ${def.name}`).toMatch(line);
        else expect(text, `${command.name} ${def.name}`).not.toMatch(line);
      }
    }
  });

  it('shows usage, arguments, defaults and requirements of a command', () => {
    const push = helpText('archive-push');
    expect(push).toContain('pgstash [options] archive-push <wal-path>');
    expect(push).toMatch(/^ +wal-path +path of the WAL segment to push/m);
    expect(push).toMatch(/--stanza .*\[required\]/);
    expect(push).toMatch(/--compress-type .*\[default=zst\]/);
    expect(push).toMatch(/--repo1-path .*\[repo1-path \.\. repo4-path\]/);
    expect(push).toMatch(/--repo1-cipher-pass .*required when repo1-cipher-type is 'aes-256-gcm'/);
    expect(helpText('restore')).toMatch(/--type .*\[default=default\]/);
    expect(helpText('backup')).toMatch(/--type .*\[default=incr\]/);
  });

  it('shows one option in detail, by concrete or table name', () => {
    const level = helpText('backup', 'compress-level');
    expect(level).toContain('type: integer');
    expect(level).toContain('allowed: by compress-type: gz 0 to 9, lz4 0 to 12, zst -7 to 22');
    expect(level).toContain('environment: PGSTASH_COMPRESS_LEVEL');
    const type = helpText('restore', 'type');
    expect(type).toContain('allowed: default, immediate, time, lsn, xid, name, standby, preserve');
    const pass = helpText('archive-push', 'repo-cipher-pass');
    expect(pass).toContain('secure: not allowed on the command line');
    expect(pass).toContain('set in: environment, config file');
    expect(helpText('archive-push', 'repo3-path')).toContain('indexed: repo1-path .. repo4-path');
  });

  it('refuses unknown commands and options a command does not take', () => {
    expect(errorOf(() => helpText('bogus')).kind).toBe('commandInvalid');
    const error = errorOf(() => helpText('archive-push', 'start-fast'));
    expect(error.kind).toBe('optionInvalid');
    expect(error.message).toBe("invalid option 'start-fast' for command 'archive-push'");
  });
});

describe('versionText', () => {
  it('prints the package version', () => {
    expect(versionText()).toBe(`pgstash ${packageJson.version}\n`);
  });
});
