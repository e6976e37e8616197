// The newest backup's figures from `info --output=json`, which pgstash and pgBackRest write with the same keys.

export interface BackupFigures {
  readonly label: string;
  readonly type: string;
  /** Bytes of the data directory a restore of the backup writes. */
  readonly size: number;
  /** Of those, the bytes this backup copied itself (a full: all). */
  readonly delta: number;
  /** Bytes the backup added to the repository (compressed, as stored). */
  readonly repoDelta: number;
}

/**
 * Reads `info --output=json` of one stanza (both tools: `[{ backup: [{ label, type, info: { size, delta,
 * repository: { delta } } }] }]`, oldest backup first) and returns the newest backup's figures.
 */
export function newestBackup(json: string): BackupFigures {
  const parsed: unknown = JSON.parse(json);
  const stanza = Array.isArray(parsed) ? (parsed[0] as unknown) : undefined;
  const backups = field(stanza, 'backup');
  if (!Array.isArray(backups) || backups.length === 0) throw new Error(`info lists no backup: ${clip(json)}`);
  const newest: unknown = backups.at(-1);
  const info = field(newest, 'info');
  const figures = {
    label: field(newest, 'label'),
    type: field(newest, 'type'),
    size: field(info, 'size'),
    delta: field(info, 'delta'),
    repoDelta: field(field(info, 'repository'), 'delta'),
  };
  const { label, type, size, delta, repoDelta } = figures;
  if (
    typeof label !== 'string' ||
    typeof type !== 'string' ||
    typeof size !== 'number' ||
    typeof delta !== 'number' ||
    typeof repoDelta !== 'number'
  ) {
    throw new Error(`unexpected backup in info: ${clip(JSON.stringify(newest))}`);
  }
  return { label, type, size, delta, repoDelta };
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

function clip(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}
