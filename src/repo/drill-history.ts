// The stanza's drill history: the outcome of the last drills (command/drill/), which `info` shows.
//
// One info file (checksummed JSON with a .copy twin, encrypted with the stanza key as every info file is) holding
// the newest DRILL_HISTORY_MAX records, newest last. A drill appends its record when it ends, passed or failed.
import { JsonObject } from '../common/json-fields.js';
import { readInfoFile, writeInfoFile } from './info-file.js';
import { repoLayout } from './layout.js';
import type { Repository } from './repository.js';

export const DRILL_HISTORY_KIND = 'drill.history';
/** Records kept: enough to see a trend, small enough to rewrite whole at every drill. */
export const DRILL_HISTORY_MAX = 100;

export interface DrillRecord {
  /** The backup set restored. */
  readonly label: string;
  /** When the drill started and ended (epoch milliseconds, the drill host's clock). */
  readonly started: number;
  readonly stopped: number;
  /** 'ok', or the failure kind (an error kind of common/errors.ts, e.g. 'drillRecovery'). */
  readonly result: string;
  /** The exit code drill ended with (0 for ok). */
  readonly code: number;
  /** Restore plus recovery up to promotion, in milliseconds; null when recovery never finished. */
  readonly rtoMs: number | null;
  /** One line saying what failed; absent when the drill passed. */
  readonly message?: string;
}

function parseRecord(object: JsonObject): DrillRecord {
  const rto = object.raw('rtoMs');
  const message = object.optStr('message');
  return {
    label: object.str('label'),
    started: object.int('started'),
    stopped: object.int('stopped'),
    result: object.str('result'),
    code: object.int('code'),
    rtoMs: rto === null ? null : object.int('rtoMs'),
    ...(message === undefined ? {} : { message }),
  };
}

/** Reads and appends the drill records of one stanza in one repository. */
export class DrillHistory {
  readonly #repo: Repository;

  constructor(repo: Repository) {
    this.#repo = repo;
  }

  #path(): string {
    return repoLayout.drillHistory(this.#repo.stanza);
  }

  /** Every record kept, oldest first; empty when no drill ever ran. */
  async list(): Promise<DrillRecord[]> {
    const raw = await readInfoFile(this.#repo.driver, this.#path(), {
      kind: DRILL_HISTORY_KIND,
      key: await this.#repo.requireKey(),
    });
    if (raw === undefined) return [];
    const where = `${this.#repo.location}/${this.#path()}`;
    return JsonObject.of(raw, { kind: DRILL_HISTORY_KIND, where }).objects('drills').map(parseRecord);
  }

  /** The newest record, or undefined. */
  async last(): Promise<DrillRecord | undefined> {
    return (await this.list()).at(-1);
  }

  /** Appends `record`, keeping the newest DRILL_HISTORY_MAX. */
  async append(record: DrillRecord): Promise<void> {
    const drills = [...(await this.list()), record].slice(-DRILL_HISTORY_MAX);
    await writeInfoFile(this.#repo.driver, this.#path(), {
      kind: DRILL_HISTORY_KIND,
      content: { drills },
      key: await this.#repo.requireKey(),
    });
  }
}
