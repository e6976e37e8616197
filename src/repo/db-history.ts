// The stanza's database history: each PostgreSQL cluster (version + system id) the stanza has archived.
import { PgStashError } from '../common/errors.js';

export interface DbRecord {
  /** 1-based history id; the archive id is `<version>-<id>`. */
  readonly id: number;
  readonly version: string;
  readonly systemId: bigint;
  readonly catalogVersion: number;
  readonly controlVersion: number;
}

export interface DbHistory {
  readonly current: DbRecord;
  /** Every record, oldest first, the current one last. */
  readonly history: readonly DbRecord[];
}

export function parseDbRecord(raw: unknown, where: string): DbRecord {
  const record = raw as Record<string, unknown> | null;
  const ok =
    record !== null &&
    typeof record === 'object' &&
    typeof record.id === 'number' &&
    typeof record.version === 'string' &&
    typeof record.systemId === 'string' &&
    /^\d+$/.test(record.systemId) &&
    typeof record.catalogVersion === 'number' &&
    typeof record.controlVersion === 'number';
  if (!ok) throw new PgStashError('format', `invalid database record in '${where}'`);
  return {
    id: record.id as number,
    version: record.version as string,
    systemId: BigInt(record.systemId as string),
    catalogVersion: record.catalogVersion as number,
    controlVersion: record.controlVersion as number,
  };
}

export function parseDbHistory(raw: unknown, where: string): DbHistory {
  const content = raw as { current?: unknown; history?: unknown } | null;
  if (content === null || typeof content !== 'object' || !Array.isArray(content.history)) {
    throw new PgStashError('format', `invalid database history in '${where}'`);
  }
  const history = content.history.map((entry) => parseDbRecord(entry, where));
  const current = history.find((entry) => entry.id === content.current);
  if (current === undefined) throw new PgStashError('format', `'${where}' has no current database record`);
  return { current, history };
}

export function serializeDbHistory(history: DbHistory): unknown {
  return { current: history.current.id, history: history.history };
}

/** A history with one record for the cluster a stanza is created for. */
export function newDbHistory(db: Omit<DbRecord, 'id'>): DbHistory {
  const current = { id: 1, ...db };
  return { current, history: [current] };
}

export function sameCluster(
  a: Pick<DbRecord, 'version' | 'systemId'>,
  b: Pick<DbRecord, 'version' | 'systemId'>,
) {
  return a.version === b.version && a.systemId === b.systemId;
}

export function describeDb(db: Pick<DbRecord, 'version' | 'systemId'>): string {
  return `version ${db.version}, system-id ${db.systemId}`;
}
