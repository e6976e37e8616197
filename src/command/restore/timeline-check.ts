// Which timeline a restore's recovery will follow, and a warning when the archive holds several it could follow.
import { log } from '../../common/log.js';
import { parseLsn } from '../../postgres/lsn.js';
import { isTimelineReachable } from '../../postgres/timeline.js';
import { walSegmentName } from '../../postgres/wal-name.js';
import type { Repository } from '../../repo/repository.js';
import {
  describeBranch,
  newestSegmentOnTimeline,
  readArchivedTimelines,
  type ArchivedTimeline,
} from '../archive/timelines.js';

/** How the followed timeline was chosen: --target-timeline latest (PostgreSQL's default), current, or a number. */
export type TimelineGoal = 'latest' | 'current' | 'explicit';

export interface TimelineChoice {
  readonly backupTimeline: number;
  readonly followed: number;
  readonly goal: TimelineGoal;
  /** Archived timelines other than the backup's that recovery could follow from it: they branch after its start. */
  readonly branches: readonly ArchivedTimeline[];
  /** Whether PostgreSQL can follow `followed` from the backup (else it refuses to start). */
  readonly reachable: boolean;
}

/**
 * The timeline PostgreSQL will recover along from a backup on `backup.timeline` that starts at `backup.startLsn`,
 * given the archive's timelines and --target-timeline (`option`: undefined or 'latest', 'current', a number).
 * 'latest' is PostgreSQL's findNewestTimeLine: the backup's timeline + 1, + 2 ... while a history file exists.
 */
export function chooseTimeline(
  backup: { readonly timeline: number; readonly startLsn: bigint },
  archived: readonly ArchivedTimeline[],
  option: string | undefined,
): TimelineChoice {
  const has = (timeline: number): boolean => archived.some((entry) => entry.timeline === timeline);
  let goal: TimelineGoal = 'latest';
  let followed = backup.timeline;
  if (option === 'current') goal = 'current';
  else if (option !== undefined && option !== 'latest') {
    goal = 'explicit';
    followed = Number(option);
  } else while (has(followed + 1)) followed++;
  const from = { timeline: backup.timeline, lsn: backup.startLsn };
  const branches = archived.filter(
    (entry) => entry.timeline !== backup.timeline && isTimelineReachable(entry.history, entry.timeline, from),
  );
  const followedEntry = archived.find((entry) => entry.timeline === followed);
  const reachable =
    followed === backup.timeline ||
    (followedEntry !== undefined && isTimelineReachable(followedEntry.history, followed, from));
  return { backupTimeline: backup.timeline, followed, goal, branches, reachable };
}

const WHY: Readonly<Record<TimelineGoal, string>> = {
  latest: "latest: the newest timeline in the archive, PostgreSQL's default",
  current: "current: the backup's own timeline",
  explicit: '--target-timeline',
};

/** 'recovery follows timeline 2 (latest: ...)': for restore's summary. */
export function describeChoice(choice: TimelineChoice): string {
  return `recovery follows timeline ${choice.followed} (${WHY[choice.goal]})`;
}

/**
 * Reads the archive's timelines, warns when recovery could follow more than one from the chosen backup and follows
 * the newest unasked (naming each, where and when it branched, and which one recovery takes), or when it cannot
 * follow the one asked for; returns the summary line. `segmentSize` tells which archived segments lie after a
 * branch point.
 */
export async function checkRestoreTimeline(
  repos: readonly Repository[],
  backup: { readonly label: string; readonly timeline: number; readonly lsnStart: string },
  recovery: { readonly targetTimeline: string | undefined; readonly type: string },
  segmentSize: () => Promise<number>,
  /** Each repository's archive ids (WalArchive.clusterIdsIfAny), read once by the caller for all its checks. */
  archiveIds: (repo: Repository) => Promise<string[]>,
): Promise<string> {
  // archive-get fetches a history file from the first repository that has it: the first one's wins.
  const byRepo: { repo: Repository; ids: string[] }[] = [];
  const found = new Map<number, ArchivedTimeline>();
  for (const repo of repos) {
    const ids = await archiveIds(repo);
    byRepo.push({ repo, ids });
    for (const entry of await readArchivedTimelines(repo, ids))
      if (!found.has(entry.timeline)) found.set(entry.timeline, entry);
  }
  const archived = [...found.values()].sort((a, b) => a.timeline - b.timeline);
  const choice = chooseTimeline(
    { timeline: backup.timeline, startLsn: parseLsn(backup.lsnStart) },
    archived,
    recovery.targetTimeline,
  );
  const from = `backup set ${backup.label} (timeline ${backup.timeline}, start ${backup.lsnStart})`;
  if (!choice.reachable) {
    log.warn(
      `recovery cannot follow timeline ${choice.followed} from ${from}: ` +
        (archived.some((entry) => entry.timeline === choice.followed)
          ? `it branched off before the backup started, or from another timeline`
          : `the archive has no history file for it`) +
        `; PostgreSQL will refuse to start ("requested timeline ${choice.followed} is not a child of this server's history")` +
        `\nHINT: choose a timeline that continues from the backup with --target-timeline=N, or another backup with --set`,
    );
  }
  if (choice.branches.length === 0) return describeChoice(choice);
  const lines = [`${choice.branches.length + 1} timelines in the archive continue from ${from}:`];
  lines.push(`  timeline ${backup.timeline}: the backup's own`);
  for (const entry of choice.branches) {
    let wentOn = '';
    // The parent has a whole segment archived that holds WAL from the branch point on (the promoted side archives
    // that segment only as .partial): the parent went on writing after the branch, so there are two histories.
    let newest: string | undefined;
    for (const { repo, ids } of byRepo) {
      const inRepo = await newestSegmentOnTimeline(repo, ids, entry.parent);
      if (inRepo !== undefined && (newest === undefined || inRepo > newest)) newest = inRepo;
    }
    const size = await segmentSize();
    if (newest !== undefined && newest >= walSegmentName(entry.parent, entry.switchLsn, size))
      wentOn = `; timeline ${entry.parent} went on after that point (WAL up to ${newest} is archived on it)`;
    lines.push(`  ${describeBranch(entry)}${wentOn}`);
  }
  lines.push(
    `${describeChoice(choice)}. If a restored copy of this cluster was promoted while archiving into this stanza, ` +
      `its timeline is the copy's history, not this cluster's: choose the timeline with --target-timeline=N ` +
      `(--target-timeline=current keeps to timeline ${backup.timeline})`,
  );
  // A timeline named on the command line (or current) is a choice made; so is stopping at consistency, before
  // any branch: only the default, following the newest timeline unasked, warns.
  const chosenUnasked = choice.goal === 'latest' && recovery.type !== 'immediate';
  (chosenUnasked ? log.warn : log.info)(lines.join('\n'));
  return describeChoice(choice);
}
