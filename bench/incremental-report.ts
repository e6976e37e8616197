// The report of the incremental scenarios: one markdown table per scenario, the mode of each figure, the goals.
import { atMost, below, GOALS, ratioAtMost, shareBelow } from './goals.js';
import type { IncrementalResults } from './incremental.js';
import { KILL_AT, type PerTool } from './incremental-scenarios.js';
import { INCREMENTAL_PROCESS_MAX, type BackupStep } from './incremental-session.js';
import type { Measurement } from './measure.js';
import { quantile } from './stats.js';
import { formatMiB, formatRatio, formatSeconds, markdownTable } from './table.js';
import type { ToolName } from './tools.js';

const TOOLS: readonly ToolName[] = ['pgstash', 'pgbackrest'];
const LABEL: Record<ToolName, string> = { pgstash: 'pgstash', pgbackrest: 'pgBackRest 2.45' };

export function renderIncremental(results: IncrementalResults): string {
  const mode: Record<ToolName, string> = {
    pgstash: results.block.on ? 'block' : 'file',
    pgbackrest: 'file',
  };
  const parts = [
    `## Incremental scenarios (issue 14): pgbench scale ${String(results.scale)}, process-max ${String(INCREMENTAL_PROCESS_MAX)}`,
    '',
    `- pgstash block incremental (repo1-block=y): ${results.block.reason}.`,
    '- pgBackRest 2.45 has no block incremental (it came with 2.46): its incrementals are file-level, a changed ' +
      'file is stored whole.',
    '- "mode" says which each figure used: block (changed blocks of a changed file) or file (changed files whole).',
    '- "added" is the backup\'s repository delta from the tool\'s own `info --output=json` ' +
      '(`info.repository.delta`: bytes stored, compressed); "copied" its `info.delta` (data bytes it copied).',
    '- "written" is what the restore process tree wrote to storage (GNU time %O), "RSS" the peak of the ' +
      'largest process (as in the full backup table).',
    `- Time per case (all compression types, setup included): ${durations(results)}.`,
    '',
  ];
  for (const entry of results.byCompress) {
    const s = entry.scenarios;
    parts.push(`### compress ${entry.compress}`, '');
    if (s['hot-set'] !== undefined) {
      const { full, incr } = s['hot-set'];
      parts.push(
        'hot-set: full, then update of a contiguous 1 % of pgbench_accounts, then incr. Goals: added at most ' +
          `${formatMiB(GOALS.hotSetBytes)}, wall time below pgBackRest 2.45's.`,
        '',
        markdownTable(
          [
            'tool',
            'mode',
            'full added',
            'incr added',
            'incr copied',
            'incr wall',
            'goal: added',
            'goal: wall',
          ],
          TOOLS.map((tool) => [
            LABEL[tool],
            mode[tool],
            formatMiB(full[tool].figures.repoDelta),
            formatMiB(incr[tool].figures.repoDelta),
            formatMiB(incr[tool].figures.delta),
            formatSeconds(incr[tool].measurement.wallMs),
            ...(tool === 'pgstash'
              ? [
                  atMost(incr.pgstash.figures.repoDelta, GOALS.hotSetBytes, formatMiB).text,
                  below(incr.pgstash.measurement.wallMs, incr.pgbackrest.measurement.wallMs, formatSeconds)
                    .text,
                ]
              : ['', '']),
          ]),
          ['left', 'left'],
        ),
        '',
        `Ratios pgstash / pgBackRest: incr added ${ratio(incr, (step) => step.figures.repoDelta)}, ` +
          `incr wall ${ratio(incr, (step) => step.measurement.wallMs)}.`,
        '',
      );
    }
    if (s.scattered !== undefined) {
      const { full, incr } = s.scattered;
      parts.push(
        'scattered: full, then `pgbench -T 30`, then incr. Goals: the incr no slower than the full, no bigger.',
        '',
        markdownTable(
          ['tool', 'mode', 'full wall', 'incr wall', 'full added', 'incr added', 'goal: wall', 'goal: added'],
          TOOLS.map((tool) => [
            LABEL[tool],
            mode[tool],
            formatSeconds(full[tool].measurement.wallMs),
            formatSeconds(incr[tool].measurement.wallMs),
            formatMiB(full[tool].figures.repoDelta),
            formatMiB(incr[tool].figures.repoDelta),
            ratioAtMost(incr[tool].measurement.wallMs, full[tool].measurement.wallMs, 1).text,
            ratioAtMost(incr[tool].figures.repoDelta, full[tool].figures.repoDelta, 1).text,
          ]),
          ['left', 'left'],
        ),
        '',
      );
    }
    if (s.resume !== undefined) {
      const { fresh, killed, resumed } = s.resume;
      parts.push(
        'resume: a fresh full, then a full killed with SIGKILL once its backup directory grew by ' +
          `${String(KILL_AT * 100)} % of what the fresh full stored, then the next full (which resumes it). ` +
          '"written" is what the backup process tree wrote (GNU time %O): the resumed full against the fresh one.',
        '',
        markdownTable(
          [
            'tool',
            'mode',
            'fresh wall',
            'fresh written',
            'killed at',
            'resumed wall',
            'resumed written',
            'resumed / fresh: wall',
            'written',
          ],
          TOOLS.map((tool) => [
            LABEL[tool],
            mode[tool],
            formatSeconds(fresh[tool].measurement.wallMs),
            formatMiB(fresh[tool].measurement.writtenBytes),
            killed[tool].finished
              ? 'finished first'
              : `${formatMiB(killed[tool].grownAtKill)} (${percent(killed[tool].grownAtKill, fresh[tool].repoGrowth)})`,
            formatSeconds(resumed[tool].measurement.wallMs),
            formatMiB(resumed[tool].measurement.writtenBytes),
            formatRatio(resumed[tool].measurement.wallMs, fresh[tool].measurement.wallMs),
            formatRatio(resumed[tool].measurement.writtenBytes, fresh[tool].measurement.writtenBytes),
          ]),
          ['left', 'left'],
        ),
        '',
      );
    }
    if (s['delta-restore'] !== undefined) {
      const { full, incr, delta, deltaForce } = s['delta-restore'];
      parts.push(
        'delta-restore: restore of a full into an empty directory, then update of a contiguous 1 % of ' +
          'pgbench_accounts, incr, and `restore --delta` of it into that directory. Goals: wall at most ' +
          `${String(GOALS.deltaRestoreTimeRatio)}x the full restore's, written under ` +
          `${String(GOALS.deltaRestoreWrittenRatio * 100)} % of the full restore's. ` +
          '"--force" is `restore --delta --force` of the same incr into a second restore of the full (a file ' +
          'whose size and modification time match is kept unread), for reference: the goal is on --delta.',
        '',
        markdownTable(
          [
            'tool',
            'mode',
            'incr added',
            'full restore wall',
            'delta wall',
            '--force wall',
            'full written',
            'delta written',
            'goal: wall',
            'goal: written',
          ],
          TOOLS.map((tool) => [
            LABEL[tool],
            mode[tool],
            formatMiB(incr[tool].figures.repoDelta),
            formatSeconds(full[tool].wallMs),
            formatSeconds(delta[tool].wallMs),
            `${formatSeconds(deltaForce[tool].wallMs)} (${(deltaForce[tool].wallMs / full[tool].wallMs).toFixed(2)}x)`,
            formatMiB(full[tool].writtenBytes),
            formatMiB(delta[tool].writtenBytes),
            ratioAtMost(delta[tool].wallMs, full[tool].wallMs, GOALS.deltaRestoreTimeRatio).text,
            shareBelow(delta[tool].writtenBytes, full[tool].writtenBytes, GOALS.deltaRestoreWrittenRatio)
              .text,
          ]),
          ['left', 'left'],
        ),
        '',
      );
    }
    if (s.chain !== undefined) {
      const c = s.chain;
      parts.push(
        `chain: full, then ${String(c.length)} times a small pgbench run and an incr; restore of the last ` +
          'into an empty directory; a full of the same data and its restore; expire --repo1-retention-full=1 ' +
          `(removes the chain). Goals: restore of the last at most ${String(GOALS.chainRestoreRatio)}x the ` +
          `full's, peak RSS of backup, expire and restore under ${formatMiB(GOALS.chainPeakRssBytes)} (250 MB).`,
        '',
        markdownTable(
          [
            'tool',
            'mode',
            'incr wall median',
            'incr added median',
            'restore last',
            'restore full',
            'goal: restore',
            'RSS backup',
            'RSS expire',
            'RSS restore',
            'goal: RSS',
          ],
          TOOLS.map((tool) => {
            const backupRss = Math.max(
              ...c.incrs[tool].map((step) => rss(step.measurement)),
              rss(c.full[tool].measurement),
            );
            const restoreRss = Math.max(rss(c.restoreLast[tool]), rss(c.restoreFull[tool]));
            const peak = Math.max(backupRss, restoreRss, rss(c.expire[tool]));
            return [
              LABEL[tool],
              mode[tool],
              formatSeconds(median(c.incrs[tool].map((step) => step.measurement.wallMs))),
              formatMiB(median(c.incrs[tool].map((step) => step.figures.repoDelta))),
              formatSeconds(c.restoreLast[tool].wallMs),
              formatSeconds(c.restoreFull[tool].wallMs),
              ratioAtMost(c.restoreLast[tool].wallMs, c.restoreFull[tool].wallMs, GOALS.chainRestoreRatio)
                .text,
              formatMiB(backupRss),
              formatMiB(rss(c.expire[tool])),
              formatMiB(restoreRss),
              below(peak, GOALS.chainPeakRssBytes, formatMiB).text,
            ];
          }),
          ['left', 'left'],
        ),
        '',
      );
    }
  }
  if (results.failure !== undefined)
    parts.push(`**The incremental scenarios stopped early:** ${results.failure}`, '');
  return parts.join('\n').trimEnd();
}

function durations(results: IncrementalResults): string {
  const entries = Object.entries(results.durationMs).map(([name, ms]) => `${name} ${formatSeconds(ms)}`);
  return [`setup (pgbench -i) ${formatSeconds(results.setupMs)}`, ...entries].join(', ');
}

function ratio(perTool: PerTool<BackupStep>, pick: (step: BackupStep) => number): string {
  return formatRatio(pick(perTool.pgstash), pick(perTool.pgbackrest));
}

function percent(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(0)} %` : 'n/a';
}

function rss(measurement: Measurement): number {
  return measurement.maxRssKiB * 1024;
}

function median(values: readonly number[]): number {
  return values.length === 0 ? 0 : quantile(values, 0.5);
}
