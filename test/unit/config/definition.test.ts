// Checks the option and command tables for consistency: references, order, defaults that parse, names.
import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES, COMMANDS, INDEX_GROUPS, OPTIONS } from '../../../src/config/definition.js';
import {
  CONCRETE_OPTIONS,
  allowedFor,
  envName,
  findOption,
  indexedName,
} from '../../../src/config/options.js';
import { parseValue } from '../../../src/config/value.js';

describe('command table', () => {
  it('has one entry per command name, in order, each with a summary', () => {
    expect(COMMANDS.map((command) => command.name)).toEqual([...COMMAND_NAMES]);
    for (const command of COMMANDS) expect(command.summary.length).toBeGreaterThan(10);
  });

  it('gives archive-push one argument and archive-get two', () => {
    expect(COMMANDS.find((command) => command.name === 'archive-push')?.args).toHaveLength(1);
    expect(COMMANDS.find((command) => command.name === 'archive-get')?.args).toHaveLength(2);
  });
});

describe('option table', () => {
  it('has unique names, valid commands and required commands among them', () => {
    const names = OPTIONS.map((def) => def.name);
    expect(new Set(names).size).toBe(names.length);
    for (const def of OPTIONS) {
      expect(def.commands.length, def.name).toBeGreaterThan(0);
      for (const command of def.commands) expect(COMMAND_NAMES).toContain(command);
      for (const command of def.required ?? []) expect(def.commands, def.name).toContain(command);
      expect(def.summary.length, def.name).toBeGreaterThan(5);
    }
  });

  it('lists every option another depends on before it, with the same index group', () => {
    OPTIONS.forEach((def, position) => {
      const target = def.depend?.option ?? def.byValueOf?.option;
      if (target === undefined) return;
      const index = OPTIONS.findIndex((other) => other.name === target);
      expect(index, def.name).toBeGreaterThanOrEqual(0);
      expect(index, def.name).toBeLessThan(position);
      const other = OPTIONS[index];
      if (other?.indexed !== undefined) expect(def.indexed).toBe(other.indexed);
      // Dependencies compare text values: the target must be an enum.
      expect(other?.type, def.name).toBe('enum');
    });
  });

  it('has defaults that parse and fit the allowed values of every command', () => {
    for (const def of OPTIONS) {
      for (const command of def.commands) {
        const value = def.commandDefault?.[command] ?? def.default;
        if (value === undefined) continue;
        const rules = {
          name: def.name,
          type: def.type,
          allowed: allowedFor(def, command),
          range: def.range,
          pattern: def.pattern,
        };
        const parsed = typeof value === 'string' ? parseValue(rules, [value]) : value;
        if (def.type === 'boolean') expect(typeof parsed, def.name).toBe('boolean');
        if (def.type === 'integer' || def.type === 'time') {
          expect(parseValue(rules, [String(value)]), def.name).toBe(value);
        }
      }
      if (def.byValueOf !== undefined) {
        for (const [selector, value] of Object.entries(def.byValueOf.default)) {
          const range = def.byValueOf.range[selector];
          expect(range, `${def.name} ${selector}`).toBeDefined();
          expect(value).toBeGreaterThanOrEqual(range?.min ?? Infinity);
          expect(value).toBeLessThanOrEqual(range?.max ?? -Infinity);
        }
      }
    }
  });

  it('has no defaults for secure options, and secure options are strings', () => {
    for (const def of OPTIONS.filter((item) => item.secure === true)) {
      expect(def.default, def.name).toBeUndefined();
      expect(def.type).toBe('string');
    }
  });

  it('expands indexed options: pg1 and repo1..repo4', () => {
    const names = CONCRETE_OPTIONS.map((option) => option.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('pg1-path');
    expect(names).not.toContain('pg2-path');
    for (let index = 1; index <= INDEX_GROUPS.repo.max; index++) {
      for (const suffix of ['path', 'type', 'cipher-type', 'cipher-pass', 'retention-full']) {
        expect(findOption(`repo${index}-${suffix}`)?.index).toBe(index);
      }
    }
    expect(findOption('repo5-path')).toBeUndefined();
    expect(findOption('repo-path')).toBeUndefined();
    for (const def of OPTIONS.filter((item) => item.indexed !== undefined)) {
      const prefix = INDEX_GROUPS[def.indexed ?? 'repo'].prefix;
      expect(def.name.startsWith(`${prefix}-`), def.name).toBe(true);
      expect(indexedName(def, 3)).toBe(`${prefix}3${def.name.slice(prefix.length)}`);
    }
  });

  it('names environment variables PGSTASH_ in upper case with underscores', () => {
    expect(envName('repo1-path')).toBe('PGSTASH_REPO1_PATH');
    expect(envName('log-level-console')).toBe('PGSTASH_LOG_LEVEL_CONSOLE');
  });

  it('holds the options and defaults pgBackRest users expect', () => {
    const def = (name: string) => OPTIONS.find((item) => item.name === name);
    expect(def('pg-port')?.default).toBe(5432);
    expect(def('pg-database')?.default).toBe('postgres');
    expect(def('repo-path')?.default).toBeUndefined();
    expect(def('repo-cipher-pass')?.secure).toBe(true);
    expect(def('compress-type')?.default).toBe('zst');
    expect(def('process-max')?.range).toEqual({ min: 1, max: 999 });
    expect(def('type')?.commandDefault).toEqual({ backup: 'incr', restore: 'default', drill: 'default' });
    expect(def('target-action')?.default).toBe('pause');
    expect(def('archive-check')?.default).toBe(true);
    expect(def('log-level-console')?.default).toBe('warn');
    expect(def('log-level-stderr')?.default).toBe('off');
    expect(def('log-level-file')?.default).toBe('info');
    expect(def('output')?.commands).toEqual(['info', 'drill', 'verify']);
  });
});
