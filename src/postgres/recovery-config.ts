// Recovery settings a restore leaves in the data directory (PostgreSQL 12+): postgresql.auto.conf lines and a signal file.
import type { Stats } from 'node:fs';
import { chmod, chown, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errnoOf, fail, messageOf } from '../common/errors.js';
import { mayChown } from '../common/os-users.js';
import { isLsn } from './lsn.js';
import { parseRecoveryTime } from './recovery-time.js';

export type RecoveryType = 'default' | 'immediate' | 'time' | 'lsn' | 'xid' | 'name' | 'standby' | 'preserve';

export interface RecoverySettings {
  type: RecoveryType;
  /** The recovery target for time, lsn, xid and name. */
  target?: string;
  targetAction?: 'pause' | 'promote' | 'shutdown';
  /** Stop just before the target instead of just after it (time, lsn, xid). */
  targetExclusive?: boolean;
  /** 'current', 'latest' or a timeline number. */
  targetTimeline?: string;
  restoreCommand: string;
  /** More settings to write (e.g. --recovery-option primary_conninfo=...); they win over generated ones. */
  extraOptions?: Record<string, string>;
  /** 'off' turns archiving off in the restored cluster (--archive-mode); by default its setting is kept. */
  archiveMode?: 'preserve' | 'off';
}

const AUTO_CONF = 'postgresql.auto.conf';
const RECOVERY_SIGNAL = 'recovery.signal';
const STANDBY_SIGNAL = 'standby.signal';

/** The setting each target type writes its target to. */
const TARGET_SETTING: Partial<Record<RecoveryType, string>> = {
  time: 'recovery_target_time',
  lsn: 'recovery_target_lsn',
  xid: 'recovery_target_xid',
  name: 'recovery_target_name',
};

const TARGET_TYPES: ReadonlySet<RecoveryType> = new Set(['time', 'lsn', 'xid', 'name']);
/** Types after which recovery stops somewhere particular, so that target-action means something. */
const ACTION_TYPES: ReadonlySet<RecoveryType> = new Set(['immediate', 'time', 'lsn', 'xid', 'name']);
/** Types whose target can be inclusive or exclusive (a restore point name and 'immediate' cannot). */
const EXCLUSIVE_TYPES: ReadonlySet<RecoveryType> = new Set(['time', 'lsn', 'xid']);

const GUC_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;
/** A setting line in a PostgreSQL configuration file: `name = value` or `name value`. */
const SETTING_LINE = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:=|\s|$)/;
/** Settings an earlier restore may have left: removed before ours are written. */
const RECOVERY_SETTING = /^(?:restore_command|recovery_target.*)$/;

/**
 * A value quoted for a PostgreSQL configuration file: single quotes around it, and each embedded single quote
 * and backslash doubled. PostgreSQL's config scanner reads backslash escapes inside quoted values (`\n`,
 * `\t`, octal), so a lone backslash would be eaten: ALTER SYSTEM doubles backslashes for the same reason.
 */
export function quoteGucValue(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/**
 * The settings a restore of this type writes, setting name -> unquoted value, in the order they are written.
 * Validates the combination first (optionRequired 37, optionInvalidValue 32). `preserve` writes nothing.
 */
export function recoverySettingLines(settings: RecoverySettings): Record<string, string> {
  validate(settings);
  const lines: Record<string, string> = {};
  if (settings.type === 'preserve') return lines;
  lines['restore_command'] = settings.restoreCommand;
  const targetSetting = TARGET_SETTING[settings.type];
  if (targetSetting !== undefined && settings.target !== undefined) lines[targetSetting] = settings.target;
  if (settings.type === 'immediate') lines['recovery_target'] = 'immediate';
  if (settings.targetExclusive === true) lines['recovery_target_inclusive'] = 'false';
  if (settings.targetAction !== undefined) lines['recovery_target_action'] = settings.targetAction;
  if (settings.targetTimeline !== undefined) lines['recovery_target_timeline'] = settings.targetTimeline;
  if (settings.archiveMode === 'off') lines['archive_mode'] = 'off';
  for (const [name, value] of Object.entries(settings.extraOptions ?? {})) lines[name] = value;
  return lines;
}

/**
 * Writes the recovery settings into `pgPath`: removes the recovery settings the restored postgresql.auto.conf
 * carries (from an earlier restore), appends ours, and creates recovery.signal (standby.signal for a standby,
 * removing the other signal file so the server starts the way asked). `preserve` touches nothing. Files keep
 * their mode and owner; new ones take the data directory's owner and 0600 (0640 with group access), the owner
 * as far as this process may set it (root: always; another user keeps them its own, see mayChown).
 */
export async function writeRecoveryConfig(pgPath: string, settings: RecoverySettings): Promise<void> {
  const lines = recoverySettingLines(settings);
  if (settings.type === 'preserve') return;

  const defaults = await newFileAttributes(pgPath);
  const confPath = join(pgPath, AUTO_CONF);
  const existing = await readExisting(confPath);
  const removed = new Set(Object.keys(lines).map((name) => name.toLowerCase()));
  const kept = (
    existing?.text ??
    '# Do not edit this file manually!\n# It will be overwritten by the ALTER SYSTEM command.\n'
  )
    .split('\n')
    .filter((line) => {
      const name = SETTING_LINE.exec(line)?.[1]?.toLowerCase();
      return name === undefined || !(RECOVERY_SETTING.test(name) || removed.has(name));
    });
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  let text = kept.join('\n') + (kept.length > 0 ? '\n' : '');
  text += `# Recovery settings written by pgstash restore (--type=${settings.type})\n`;
  for (const [name, value] of Object.entries(lines)) text += `${name} = ${quoteGucValue(value)}\n`;
  await writeFileAtomic(confPath, { ...(existing?.attributes ?? defaults), text });

  const [signal, other] =
    settings.type === 'standby' ? [STANDBY_SIGNAL, RECOVERY_SIGNAL] : [RECOVERY_SIGNAL, STANDBY_SIGNAL];
  const signalPath = join(pgPath, signal);
  await writeSignalFile(signalPath, attributesOf(await statOrUndefined(signalPath)) ?? defaults);
  try {
    await rm(join(pgPath, other), { force: true });
  } catch (error) {
    fail('fileWrite', `unable to remove '${join(pgPath, other)}': ${messageOf(error)}`);
  }
}

function validate(settings: RecoverySettings): void {
  const { type } = settings;
  const needsTarget = TARGET_TYPES.has(type);
  if (needsTarget && (settings.target === undefined || settings.target === '')) {
    fail('optionRequired', `target option required for --type=${type}`);
  }
  if (!needsTarget && settings.target !== undefined) {
    fail('optionInvalidValue', `target option not valid for --type=${type}`, {
      hint: 'a target is given only with --type=time, lsn, xid or name',
    });
  }
  if (settings.targetAction !== undefined && !ACTION_TYPES.has(type)) {
    fail('optionInvalidValue', `target-action option not valid for --type=${type}`, {
      hint: 'target-action applies to --type=immediate, time, lsn, xid and name',
    });
  }
  if (
    settings.targetAction !== undefined &&
    !['pause', 'promote', 'shutdown'].includes(settings.targetAction)
  ) {
    fail('optionInvalidValue', `invalid target-action '${String(settings.targetAction)}'`, {
      hint: "target-action is 'pause', 'promote' or 'shutdown'",
    });
  }
  if (settings.targetExclusive !== undefined && !EXCLUSIVE_TYPES.has(type)) {
    fail('optionInvalidValue', `target-exclusive option not valid for --type=${type}`, {
      hint: 'target-exclusive applies to --type=time, lsn and xid',
    });
  }
  if (type === 'preserve') {
    if (settings.archiveMode === 'off') {
      fail('optionInvalidValue', 'archive-mode=off is not valid for --type=preserve', {
        hint: '--type=preserve keeps the configuration of the backup as it is',
      });
    }
    if (settings.targetTimeline !== undefined || settings.extraOptions !== undefined) {
      fail('optionInvalidValue', 'target-timeline and recovery options are not valid for --type=preserve', {
        hint: '--type=preserve keeps the recovery configuration of the backup as it is',
      });
    }
    return;
  }
  if (settings.restoreCommand === '') fail('optionRequired', 'restore command required for recovery');
  checkValue('restore_command', settings.restoreCommand);
  if (settings.target !== undefined) {
    checkValue(`recovery target`, settings.target);
    checkTarget(type, settings.target);
  }
  if (settings.targetTimeline !== undefined) checkTimeline(settings.targetTimeline);
  for (const [name, value] of Object.entries(settings.extraOptions ?? {})) {
    if (!GUC_NAME.test(name)) fail('optionInvalidValue', `invalid recovery option name '${name}'`);
    checkValue(name, value);
  }
}

/** A configuration file holds one setting per line: a value with a line break or NUL cannot be written. */
export function writableSettingValue(value: string): boolean {
  return !/[\n\r\0]/.test(value);
}

function checkValue(what: string, value: string): void {
  if (!writableSettingValue(value)) {
    fail(
      'optionInvalidValue',
      `invalid ${what} '${value}': line breaks and NUL cannot be written to ${AUTO_CONF}`,
    );
  }
}

function checkTarget(type: RecoveryType, target: string): void {
  switch (type) {
    case 'lsn':
      if (!isLsn(target)) {
        fail('optionInvalidValue', `invalid target '${target}' for --type=lsn`, {
          hint: "an LSN is two hexadecimal numbers of up to 8 digits separated by '/', e.g. '0/3000060'",
        });
      }
      break;
    case 'xid':
      // recovery_target_xid takes a 64-bit transaction id (epoch and xid) since PostgreSQL 13.
      if (!/^[0-9]+$/.test(target) || BigInt(target) === 0n || BigInt(target) > 0xffffffffffffffffn) {
        fail('optionInvalidValue', `invalid target '${target}' for --type=xid`, {
          hint: 'a transaction id is a positive integer, e.g. 1234',
        });
      }
      break;
    case 'time':
      // The parser that chose the backup. Only an explicit UTC offset means the same instant to PostgreSQL
      // whatever its timezone, DateStyle and abbreviation table: restore writes the instant it resolved so.
      if (parseRecoveryTime(target).zone.kind !== 'offset') {
        fail('optionInvalidValue', `invalid --target '${target}' for --type=time: no explicit UTC offset`, {
          hint: "recovery_target_time is written with an explicit offset, e.g. '2026-11-21 10:15:00+00'",
        });
      }
      break;
    case 'name':
      // PostgreSQL limits restore point names to 63 bytes (NAMEDATALEN - 1).
      if (Buffer.byteLength(target) > 63) {
        fail('optionInvalidValue', `invalid target '${target}' for --type=name: longer than 63 bytes`);
      }
      break;
    default:
      break;
  }
}

/** recovery_target_timeline: 'current', 'latest' or a timeline id (PostgreSQL reads it with strtoul base 0). */
function checkTimeline(timeline: string): void {
  const numeric = /^[1-9][0-9]*$/.test(timeline) || /^0[xX][0-9a-fA-F]+$/.test(timeline);
  const valid =
    timeline === 'current' ||
    timeline === 'latest' ||
    (numeric && Number(timeline) >= 1 && Number(timeline) <= 0xffffffff);
  if (!valid) {
    fail('optionInvalidValue', `invalid target-timeline '${timeline}'`, {
      hint: "target-timeline is 'current', 'latest' or a timeline number such as 2",
    });
  }
}

interface FileAttributes {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** A file's text with the mode and owner it must have. */
interface FileContent extends FileAttributes {
  readonly text: string;
}

function attributesOf(stats: Stats | undefined): FileAttributes | undefined {
  return stats === undefined ? undefined : { mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid };
}

/** Owner and mode for a file the restore creates: the data directory's owner, group-readable if it is. */
async function newFileAttributes(pgPath: string): Promise<FileAttributes> {
  const stats = await statOrUndefined(pgPath);
  if (stats === undefined || !stats.isDirectory()) {
    fail('pathMissing', `unable to write recovery settings: data directory '${pgPath}' is missing`);
  }
  return { mode: (stats.mode & 0o040) !== 0 ? 0o640 : 0o600, uid: stats.uid, gid: stats.gid };
}

async function readExisting(path: string): Promise<{ text: string; attributes: FileAttributes } | undefined> {
  const stats = await statOrUndefined(path);
  if (stats === undefined) return undefined;
  try {
    return {
      text: await readFile(path, 'utf8'),
      attributes: { mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid },
    };
  } catch (error) {
    fail('fileRead', `unable to read '${path}': ${messageOf(error)}`);
  }
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    fail('fileOpen', `unable to stat '${path}': ${messageOf(error)}`);
  }
}

/**
 * Replaces `path` whole or not at all: a temp file beside it with the wanted mode and owner, fsynced, renamed
 * over, and the directory fsynced, so that a crash never leaves a half-written configuration file. The temp
 * name is the one ALTER SYSTEM uses, which backups leave out.
 */
async function writeFileAtomic(path: string, content: FileContent): Promise<void> {
  const temp = `${path}.tmp`;
  try {
    await writeWithAttributes(temp, content);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    fail('fileWrite', `unable to write '${path}': ${messageOf(error)}`);
  }
  await syncDirectory(path);
}

/** A signal file is empty: it is there or not, and needs no temp file to appear whole. */
async function writeSignalFile(path: string, attributes: FileAttributes): Promise<void> {
  try {
    await writeWithAttributes(path, { ...attributes, text: '' });
  } catch (error) {
    fail('fileWrite', `unable to write '${path}': ${messageOf(error)}`);
  }
  await syncDirectory(path);
}

async function writeWithAttributes(path: string, content: FileContent): Promise<void> {
  const { text, ...attributes } = content;
  const handle = await open(path, 'w', attributes.mode);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  // open() applies the umask and keeps the mode of a file that exists: set it exactly, and the owner when it
  // is not already ours and we may set it (a non-root restore keeps the file its own, see mayChown).
  await chmod(path, attributes.mode);
  const ours = attributes.uid === process.geteuid?.() && attributes.gid === process.getegid?.();
  if (!ours && mayChown(attributes.uid, attributes.gid)) await chown(path, attributes.uid, attributes.gid);
}

async function syncDirectory(path: string): Promise<void> {
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
