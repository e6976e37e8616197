// The last drill of a stanza (repo/drill-history.ts), as info shows it: date, result, RTO.
import { ERROR_CODES, type ErrorKind } from '../../common/errors.js';
import { localTimeText } from '../../common/time-text.js';
import type { DrillRecord } from '../../repo/drill-history.js';
import type { Repository } from '../../repo/repository.js';
import type { StanzaInfo } from './collect.js';

/** The repository's newest drill record; undefined when none, or when the history cannot be read (a hint only). */
export async function collectLastDrill(repo: Repository): Promise<DrillRecord | undefined> {
  return repo.drills.last().catch(() => undefined);
}

/** The newest drill of the stanza over its repositories, with the repository that holds it. */
function lastDrillOf(stanza: StanzaInfo): { drill: DrillRecord; repo: number } | undefined {
  let found: { drill: DrillRecord; repo: number } | undefined;
  for (const repo of stanza.repos) {
    const drill = repo.lastDrill;
    if (drill !== undefined && (found === undefined || drill.started > found.drill.started))
      found = { drill, repo: repo.repo };
  }
  return found;
}

function resultText(drill: DrillRecord): string {
  if (drill.result === 'ok') return 'ok';
  const known = (ERROR_CODES as Record<string, { code: number } | undefined>)[drill.result as ErrorKind];
  return `FAILED [${String(known?.code ?? drill.code).padStart(3, '0')}]${drill.message === undefined ? '' : ` ${drill.message}`}`;
}

/** `    last drill: ok, backup set 20261206-170000F, RTO 12.3s, at 2026-12-06 17:05:00+00` (none: no line). */
export function lastDrillLines(stanza: StanzaInfo): string[] {
  const found = lastDrillOf(stanza);
  if (found === undefined) return [];
  const { drill } = found;
  const rto = drill.rtoMs === null ? '-' : `${(drill.rtoMs / 1000).toFixed(1)}s`;
  return [
    `    last drill: ${resultText(drill)}, backup set ${drill.label || '-'}, RTO ${rto}, at ${localTimeText(drill.started)} (repo${found.repo})`,
  ];
}

/** `drill.last` of info's JSON (docs/info-json.md); null when no drill ran. */
export function lastDrillJson(stanza: StanzaInfo): unknown {
  const found = lastDrillOf(stanza);
  if (found === undefined) return { last: null };
  const { drill } = found;
  return {
    last: {
      'repo-key': found.repo,
      label: drill.label || null,
      result: drill.result,
      code: drill.code,
      message: drill.message ?? null,
      timestamp: { start: Math.floor(drill.started / 1000), stop: Math.floor(drill.stopped / 1000) },
      rto: drill.rtoMs === null ? null : drill.rtoMs / 1000,
    },
  };
}
