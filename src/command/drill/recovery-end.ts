// Where the drill's recovery ended: the switch point of the timeline its promotion began, from that history file.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseTimelineHistory } from '../../postgres/timeline.js';

export interface RecoveryEnd {
  /** The timeline the promoted copy writes on. */
  readonly timeline: number;
  /** The end of recovery: where the new timeline forked off. */
  readonly lsn: bigint;
  /** PostgreSQL's words for why recovery stopped ('no recovery target specified', 'at lsn ...'). */
  readonly reason: string;
}

/**
 * The newest timeline's history file in the copy's pg_wal (written at promotion: no newer timeline can be there,
 * the copy's archive_mode is off and the restored pg_wal is empty) says where recovery ended.
 */
export async function recoveryEnd(pgPath: string): Promise<RecoveryEnd | undefined> {
  const wal = join(pgPath, 'pg_wal');
  const timelines = (await readdir(wal))
    .filter((name) => /^[0-9A-F]{8}\.history$/.test(name))
    .map((name) => parseInt(name.slice(0, 8), 16))
    .sort((a, b) => a - b);
  const timeline = timelines.at(-1);
  if (timeline === undefined) return undefined;
  const name = `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
  const last = parseTimelineHistory(await readFile(join(wal, name), 'utf8'), timeline, name).at(-1);
  return last === undefined ? undefined : { timeline, lsn: last.switchLsn, reason: last.reason };
}
