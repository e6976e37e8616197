// Backups of a stanza setup as tests see them: take one, the labels info lists, the label directories in the repo.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { StanzaSetup } from './stanza.js';

/** A full backup's label, as a directory name. */
export const FULL_LABEL = /^\d{8}-\d{6}F$/;

/**
 * `backup --start-fast ...args`, which must succeed; returns the label it reports. A full backup unless `args` name
 * a --type (the option's default is incr).
 */
export async function takeBackup(setup: StanzaSetup, args: readonly string[] = []): Promise<string> {
  const type = args.some((arg) => arg.startsWith('--type')) ? [] : ['--type=full'];
  const backup = await setup.pgstashOk(['backup', '--start-fast', ...type, ...args]);
  const label = /backup (\d{8}-\d{6}F(?:_\d{8}-\d{6}[DI])?) complete/.exec(backup.stdout)?.[1];
  if (label === undefined) throw new Error(`backup reported no label:\n${backup.stdout}${backup.stderr}`);
  return label;
}

/** Labels listed by `info --output=json`, oldest first. */
export async function listedLabels(setup: StanzaSetup): Promise<string[]> {
  const info = await setup.pgstashOk(['info', '--output=json']);
  const [stanza] = JSON.parse(info.stdout) as [{ backup: { label: string }[] }];
  return stanza.backup.map((backup) => backup.label);
}

/** Full backup directories present in the repository, listed or not, in name order. */
export async function labelDirs(setup: StanzaSetup): Promise<string[]> {
  const names = await readdir(join(setup.repoPath, 'backup', setup.stanza));
  return names.filter((name) => FULL_LABEL.test(name)).sort();
}
