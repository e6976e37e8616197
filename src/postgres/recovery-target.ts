// The recovery target a running server recovers to, read from its data directory (postgresql.auto.conf).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The settings that give archive recovery a target (PostgreSQL 12+); at most one of them may be set. */
const TARGET_SETTINGS = [
  'recovery_target',
  'recovery_target_lsn',
  'recovery_target_time',
  'recovery_target_xid',
  'recovery_target_name',
];

/** A recovery target setting and its value, e.g. { setting: 'recovery_target_lsn', value: '0/3000060' }. */
export interface RecoveryTarget {
  readonly setting: string;
  readonly value: string;
}

/**
 * The value of each setting in a PostgreSQL configuration file's text, the last occurrence winning, names in
 * lower case: `name = value` or `name value`, the value quoted ('' and backslash escapes) or a bare word,
 * comments from '#'. Include directives are not followed (postgresql.auto.conf has none).
 */
export function parseConfigSettings(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_.$]*)\s*=?\s*(.*)$/.exec(line);
    if (match === null) continue;
    const [, name = '', rest = ''] = match;
    settings.set(name.toLowerCase(), valueOf(rest));
  }
  return settings;
}

/** The value at the start of `rest`: a quoted string with its escapes undone, or a bare word. */
function valueOf(rest: string): string {
  if (!rest.startsWith("'")) return /^[^\s#]*/.exec(rest)?.[0] ?? '';
  let value = '';
  for (let index = 1; index < rest.length; index++) {
    const char = rest[index] as string;
    if (char === "'") {
      if (rest[index + 1] !== "'") return value;
      value += "'";
      index++;
    } else if (char === '\\' && index + 1 < rest.length) {
      const next = rest[index + 1] as string;
      value += { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' }[next] ?? next;
      index++;
    } else {
      value += char;
    }
  }
  return value;
}

/**
 * The recovery target of the server running in `dataDir`, or undefined when it has none or it cannot be known
 * for sure. Read from postgresql.auto.conf, which PostgreSQL reads after every other configuration file (and
 * where restore writes its recovery settings); a target set only in postgresql.conf is not seen, which errs on
 * the safe side for the caller. Unknown, hence undefined: no postmaster.pid (no server runs here), a
 * postgresql.auto.conf changed after the server started (recovery targets are read only at start), or a server
 * started with a recovery target on its command line (postmaster.opts), which overrides the files.
 */
export function runningRecoveryTarget(dataDir: string): RecoveryTarget | undefined {
  try {
    const pid = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
    const startedSec = Number(pid[2]);
    if (!Number.isSafeInteger(startedSec)) return undefined;
    const confPath = join(dataDir, 'postgresql.auto.conf');
    if (statSync(confPath).mtimeMs >= (startedSec + 1) * 1000) return undefined;
    const options = readFileSync(join(dataDir, 'postmaster.opts'), 'utf8');
    if (/recovery_target/i.test(options)) return undefined;
    const settings = parseConfigSettings(readFileSync(confPath, 'utf8'));
    for (const setting of TARGET_SETTINGS) {
      const value = settings.get(setting);
      if (value !== undefined && value !== '') return { setting, value };
    }
    return undefined;
  } catch {
    // A file missing or unreadable: the target cannot be known.
    return undefined;
  }
}
