// annotate: adds, changes or removes the annotations of a backup (key=value, key= removes) and pins or unpins it.
import { PgStashError } from '../common/errors.js';
import { acquireLock } from '../common/lock.js';
import type { LoadedConfig } from '../config/load.js';
import type { BackupRecord } from '../repo/backup-info.js';
import { Repository } from '../repo/repository.js';
import type { CommandContext } from './context.js';
import { selectedRepos } from './repo-select.js';

/** `--annotation` values as key -> value; an empty value (key=) means remove, which only annotate allows. */
export function parseAnnotations(config: LoadedConfig, allowRemove: boolean): Map<string, string> {
  const annotations = new Map<string, string>();
  for (const text of config.get('annotation')) {
    const equals = text.indexOf('=');
    const key = text.slice(0, equals).trim();
    const value = text.slice(equals + 1);
    if (key === '' || (value === '' && !allowRemove)) {
      throw new PgStashError(
        'optionInvalidValue',
        `'${text}' is not valid for 'annotation' option: expected key=value`,
      );
    }
    annotations.set(key, value);
  }
  return annotations;
}

/** The record with `annotations` applied (an empty value removes the key); no annotation field when none remain. */
export function annotated(record: BackupRecord, annotations: ReadonlyMap<string, string>): BackupRecord {
  const next: Record<string, string> = { ...record.annotation };
  for (const [key, value] of annotations) {
    if (value === '') delete next[key];
    else next[key] = value;
  }
  const { annotation: _old, ...rest } = record;
  void _old;
  return Object.keys(next).length === 0 ? rest : { ...rest, annotation: next };
}

export async function annotate(context: CommandContext): Promise<number> {
  const { config } = context;
  const stanza = config.require('stanza');
  const set = config.require('set');
  const pin = config.get('pin');
  const unpin = config.get('unpin');
  if (pin && unpin)
    throw new PgStashError('optionInvalid', "options 'pin' and 'unpin' cannot be used together");
  const annotations = parseAnnotations(config, true);
  if (!pin && !unpin && annotations.size === 0) {
    throw new PgStashError('optionRequired', 'annotate needs --annotation=key=value, --pin or --unpin');
  }
  const lock = await acquireLock({ lockPath: config.get('lock-path'), stanza, type: 'backup' });
  try {
    let found = false;
    for (const repoOptions of selectedRepos(config)) {
      const repo = await Repository.open(repoOptions, stanza);
      const backups = await repo.backups.list();
      const label = set === 'latest' ? backups.at(-1)?.label : set;
      if (label === undefined || !backups.some((backup) => backup.label === label)) continue;
      found = true;
      const record = await repo.backups.update(label, (current) => {
        const next = annotated(current, annotations);
        if (pin) return { ...next, pinned: true };
        if (!unpin) return next;
        const { pinned: _pinned, ...rest } = next;
        void _pinned;
        return rest;
      });
      const notes = Object.entries(record.annotation ?? {}).map(([key, value]) => `${key}=${value}`);
      context.out(
        `${repo.name}: backup ${label}${record.pinned === true ? ' pinned' : ''}` +
          `${notes.length > 0 ? `, annotations: ${notes.join(', ')}` : ', no annotations'}\n`,
      );
    }
    if (!found) {
      throw new PgStashError('backupSetInvalid', `backup set '${set}' does not exist`, {
        hint: `run 'pgstash --stanza=${stanza} info' to list the backups`,
      });
    }
    return 0;
  } finally {
    await lock.release();
  }
}
