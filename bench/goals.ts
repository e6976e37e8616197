// Issues 14's and 15's goals for the incremental and S3 scenarios, and how a figure is judged against one.

const MIB = 1024 * 1024;

/** The goals, as issue 14 ("Measure") states them. */
export const GOALS = {
  /** hot-set: bytes a pgstash incr adds after a contiguous 1 % update of pgbench_accounts. */
  hotSetBytes: 2.1 * MIB,
  /** delta restore: wall time against a full restore into an empty directory. */
  deltaRestoreTimeRatio: 0.2,
  /** delta restore: bytes written against a full restore's. */
  deltaRestoreWrittenRatio: 0.05,
  /** chain: restore of the last incremental against the restore of a full of the same data. */
  chainRestoreRatio: 1.2,
  /** chain: peak RSS of backup, expire and restore (250 MB). */
  chainPeakRssBytes: 250e6,
  /** s3 (issue 15): backup and restore wall time against pgBackRest 2.45's on the same server. */
  s3WallRatio: 0.8,
  /** s3: peak RSS of backup and restore (300 MB). */
  s3PeakRssBytes: 300e6,
} as const;

/** One figure against its goal: the text that shows both and whether it is met. */
export interface Verdict {
  readonly met: boolean;
  readonly text: string;
}

/** `value` at most `limit` (inclusive). */
export function atMost(value: number, limit: number, format: (n: number) => string): Verdict {
  return verdict(value <= limit, `${format(value)} <= ${format(limit)}`);
}

/** `value` strictly below `limit`. */
export function below(value: number, limit: number, format: (n: number) => string): Verdict {
  return verdict(value < limit, `${format(value)} < ${format(limit)}`);
}

/** A ratio `value / reference` at most `limit`; no reference (0) is not met. */
export function ratioAtMost(value: number, reference: number, limit: number): Verdict {
  if (reference <= 0) return { met: false, text: 'n/a' };
  const ratio = value / reference;
  return verdict(ratio <= limit, `${ratio.toFixed(2)}x <= ${String(limit)}x`);
}

/** A share `value / reference` strictly below `limit`, shown in percent; no reference (0) is not met. */
export function shareBelow(value: number, reference: number, limit: number): Verdict {
  if (reference <= 0) return { met: false, text: 'n/a' };
  const share = value / reference;
  return verdict(share < limit, `${(share * 100).toFixed(1)} % < ${String(limit * 100)} %`);
}

function verdict(met: boolean, comparison: string): Verdict {
  return { met, text: `${comparison}: ${met ? 'met' : 'MISSED'}` };
}
