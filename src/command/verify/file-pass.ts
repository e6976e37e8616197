// verify's one read loop: repository files, process-max worker threads reading, each to its end through the chunk loop
// (or trusted from the ledger when --since-last and its size, mtime and expected checksum are those recorded),
// the largest files of a window first, outcomes in input order so the new ledger is written in ascending path order.
import { ERROR_CODES } from '../../common/errors.js';
import { log } from '../../common/log.js';
import { mapHeaviestFirst } from '../../io/heaviest-first.js';
import type { LedgerCursor, LedgerWriter } from '../../repo/verify-ledger.js';
import { problemOf, storedStat, type StoredCheck } from '../../repo/verify-files.js';
import type { Repository } from '../../repo/repository.js';
import { throwIfAborted } from '../context.js';

/**
 * Files taken ahead of the oldest whose outcome is not yet yielded: the largest of them is read first. Wide enough for
 * a cluster's files (about a thousand in a fresh one), so that its largest relation file starts at once rather than
 * last, alone on one thread; each waits as a few hundred bytes (its check and outcome).
 */
const READ_WINDOW = 2048;

/** What the reads of one repository came to. */
export interface FileCounts {
  /** Files looked at. */
  checked: number;
  /** Files read to their end. */
  read: number;
  /** Files trusted from the ledger (unchanged since the last verify that passed). */
  unchanged: number;
  /** Original bytes read. */
  bytes: number;
}

export function newCounts(): FileCounts {
  return { checked: 0, read: 0, unchanged: 0, bytes: 0 };
}

export interface FilePass {
  readonly repo: Repository;
  /** Reads a file to its end, checked (on a worker thread): its original size, or 'missing'. */
  readonly read: (check: StoredCheck) => Promise<number | 'missing'>;
  readonly concurrency: number;
  readonly counts: FileCounts;
  readonly signal: AbortSignal;
  /** The last ledger (--since-last). */
  readonly ledger: LedgerCursor | undefined;
  /** The ledger being written. */
  readonly writer: LedgerWriter | undefined;
}

/** One file's outcome: sound (read or unchanged), or the problem. */
export interface FileOutcome<T extends StoredCheck> {
  readonly check: T;
  /** Original bytes, when it was read. */
  readonly size?: number;
  readonly problem?: { readonly message: string; readonly code: number };
}

/** A file to check and what the last ledger recorded of it (--since-last). */
interface Pending<T extends StoredCheck> {
  readonly check: T;
  readonly recorded: Awaited<ReturnType<LedgerCursor['lookup']>>;
}

/** Reads every file of `checks` (ascending paths), yielding each outcome in the same order. */
export async function* checkFiles<T extends StoredCheck>(
  pass: FilePass,
  checks: AsyncIterable<T> | Iterable<T>,
): AsyncGenerator<FileOutcome<T>> {
  const { repo, counts } = pass;
  // The ledger is read forward, so it is asked here, in order, before the reads run side by side.
  async function* withLedger(): AsyncGenerator<Pending<T>> {
    for await (const check of checks) {
      throwIfAborted(pass.signal);
      yield { check, recorded: await pass.ledger?.lookup(check.path) };
    }
  }
  const one = async ({
    check,
    recorded,
  }: Pending<T>): Promise<{ outcome: FileOutcome<T>; stat?: { size: number; mtimeMs: number } }> => {
    try {
      const stat =
        pass.writer !== undefined || recorded !== undefined
          ? await storedStat(repo, check.object ?? check.path)
          : undefined;
      if (
        recorded !== undefined &&
        stat !== undefined &&
        recorded.size === stat.size &&
        recorded.mtimeMs === stat.mtimeMs &&
        recorded.sha256 === check.expect.sha256
      )
        return { outcome: { check }, stat };
      log.detail(
        `verify: read '${check.path}'${recorded === undefined ? '' : ' (changed since the last verify)'}`,
      );
      const size = await pass.read(check);
      if (size === 'missing') {
        return {
          outcome: {
            check,
            problem: {
              message: `'${repo.location}/${check.path}' is missing`,
              code: ERROR_CODES.fileMissing.code,
            },
          },
        };
      }
      return { outcome: { check, size }, ...(stat === undefined ? {} : { stat }) };
    } catch (error) {
      return { outcome: { check, problem: problemOf(error) } };
    }
  };
  // A file the ledger will likely show unchanged costs a stat; others their stored bytes (a WAL file's are unknown:
  // all alike, so they keep their order).
  const weight = ({ check, recorded }: Pending<T>): number =>
    recorded?.sha256 === check.expect.sha256 ? 0 : (check.expect.storedSize ?? check.expect.size ?? 0);
  for await (const { result } of mapHeaviestFirst(withLedger(), one, {
    concurrency: pass.concurrency,
    window: READ_WINDOW,
    weight,
  })) {
    const { outcome, stat } = result;
    counts.checked++;
    if (outcome.problem === undefined) {
      if (outcome.size === undefined) counts.unchanged++;
      else {
        counts.read++;
        counts.bytes += outcome.size;
      }
      if (stat !== undefined)
        await pass.writer?.add({ path: outcome.check.path, ...stat, sha256: outcome.check.expect.sha256 });
    } else counts.read++;
    yield outcome;
  }
}
