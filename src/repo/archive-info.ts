// archive.info: which clusters a stanza archives WAL for; every archive id derives from it.
import type { Driver } from '../storage/driver.js';
import { parseDbHistory, serializeDbHistory, type DbHistory } from './db-history.js';
import { readInfoFile, writeInfoFile } from './info-file.js';
import { repoLayout } from './layout.js';

const KIND = 'archive.info';

export type ArchiveInfo = DbHistory;

export async function readArchiveInfo(
  driver: Driver,
  stanza: string,
  key: Buffer | undefined,
): Promise<ArchiveInfo | undefined> {
  const path = repoLayout.archiveInfo(stanza);
  const raw = await readInfoFile(driver, path, { kind: KIND, key });
  return raw === undefined ? undefined : parseDbHistory(raw, `${driver.location}/${path}`);
}

export async function writeArchiveInfo(
  driver: Driver,
  stanza: string,
  info: ArchiveInfo,
  key: Buffer | undefined,
): Promise<void> {
  await writeInfoFile(driver, repoLayout.archiveInfo(stanza), {
    kind: KIND,
    content: serializeDbHistory(info),
    key,
  });
}
