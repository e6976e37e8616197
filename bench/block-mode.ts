// Whether the incremental scenarios run pgstash with block incremental (repo1-block=y), and why.
import { OPTIONS } from '../src/config/definition.js';
import type { BenchBlock } from './settings.js';

/** pgBackRest's name for block incremental; pgstash uses the same. */
export const BLOCK_OPTION = 'repo-block';

export interface BlockMode {
  /** pgstash runs with repo1-block=y. */
  readonly on: boolean;
  /** Why, for the report. */
  readonly reason: string;
}

/** What the benchmark reads of an option table entry (src/config/definition.ts). */
export interface OptionView {
  readonly name: string;
  /** Commands where the option has an effect today (absent: all of its commands). */
  readonly effectiveFor?: readonly string[];
  /** Listed but not real yet (the table marks commands so today; an option may get the same mark). */
  readonly notYetAvailable?: boolean;
}

/**
 * Block incremental is available when the option table lists repo-block, not marked `notYetAvailable`, with an
 * effect on backup (no `effectiveFor` that leaves backup out).
 */
export function blockAvailable(options: readonly OptionView[]): boolean {
  const entry = options.find((option) => option.name === BLOCK_OPTION);
  if (entry === undefined || entry.notYetAvailable === true) return false;
  return entry.effectiveFor === undefined || entry.effectiveFor.includes('backup');
}

/** The mode for a PGSTASH_BENCH_BLOCK setting against the option table pgstash was built with. */
export function blockMode(setting: BenchBlock, options: readonly OptionView[] = OPTIONS): BlockMode {
  const available = blockAvailable(options);
  if (setting === 'off') return { on: false, reason: 'off (PGSTASH_BENCH_BLOCK=off)' };
  if (setting === 'on') {
    if (!available)
      throw new Error(
        `PGSTASH_BENCH_BLOCK=on, but this pgstash has no ${BLOCK_OPTION} option (src/config/definition.ts)`,
      );
    return { on: true, reason: 'on (PGSTASH_BENCH_BLOCK=on)' };
  }
  return available
    ? { on: true, reason: `on (auto: the option table lists ${BLOCK_OPTION})` }
    : { on: false, reason: `off (auto: this pgstash has no ${BLOCK_OPTION} yet; file-level incremental)` };
}
