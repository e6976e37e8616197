// verify's one read loop: repository files, process-max worker threads reading, each to its end through the chunk loop
// (or trusted from the ledger when --since-last and its size, mtime and expected checksum are those recorded),
// the largest files of a window first, outcomes in input order so the new ledger is written in ascending path order.
import { ERROR_CODES, PgStashError } from '../../common/errors.js';
import { log } from '../../common/log.js';
import { mapHeaviestFirst } from '../../io/heaviest-first.js';
import type { LedgerCursor, LedgerEntry, LedgerWriter } from '../../repo/verify-ledger.js';
import { problemOf, storedStat, type StoredCheck } from '../../repo/verify-files.js';
import type { Repository } from '../../repo/repository.js';
import { throwIfAborted } from '../context.js';
import type { VerifyReply } from './verify-worker.js';

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
  /**
   * Of the files read, those read as stored: their stored bytes hashed against the ledger's record of a verify that
   * decoded them, not decoded again.
   */
  asStored: number;
}

export function newCounts(): FileCounts {
  return { checked: 0, read: 0, unchanged: 0, bytes: 0, asStored: 0 };
}

export interface FilePass {
  readonly repo: Repository;
  /**
   * Reads a file to its end, checked (on a worker thread): what decoding it found, or 'missing'; or 'stored' when its
   * stored bytes hash to `storedSha256`.
   */
  readonly read: (check: StoredCheck, storedSha256?: string) => Promise<VerifyReply>;
  /** --since-last: a file the ledger records unchanged (size, mtime, expected checksum) is not read. */
  readonly sinceLast: boolean;
  readonly concurrency: number;
  readonly counts: FileCounts;
  readonly signal: AbortSignal;
  /** The last ledger (with --since-last; without, when sound: files it records as decoded are read as stored). */
  readonly ledger: LedgerCursor | undefined;
  /** The ledger being written. */
  readonly writer: LedgerWriter | undefined;
}

/** One file's outcome: sound (read or unchanged), or the problem. */
export interface FileOutcome<T extends StoredCheck> {
  readonly check: T;
  /** Original bytes, when it was read. */
  readonly size?: number;
  /** Read as stored (its stored bytes hashed), not decoded. */
  readonly asStored?: boolean;
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
  }: Pending<T>): Promise<{ outcome: FileOutcome<T>; entry?: Omit<LedgerEntry, 'path' | 'sha256'> }> => {
    try {
      const stat =
        pass.writer !== undefined || recorded !== undefined
          ? await storedStat(repo, check.object ?? check.path)
          : undefined;
      const same = recorded !== undefined && stat !== undefined && recorded.sha256 === check.expect.sha256;
      if (pass.sinceLast && same && recorded.size === stat.size && recorded.mtimeMs === stat.mtimeMs)
        return { outcome: { check }, entry: { ...stat, ...storedOf(recorded) } };
      // Stored bytes a verify decoded and found sound still decode so if they hash as they did then.
      const stored = same && recorded.size === stat.size ? recorded.stored : undefined;
      const changed = recorded !== undefined && pass.sinceLast ? ' (changed since the last verify)' : '';
      log.detail(`verify: read '${check.path}'${changed}${stored === undefined ? '' : ' (as stored)'}`);
      const reply = await pass.read(check, stored?.sha256);
      if (reply === 'missing') {
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
      if (reply === 'stored' && stored !== undefined) {
        const outcome = { check, size: stored.size, asStored: true };
        return { outcome, ...(stat === undefined ? {} : { entry: { ...stat, stored } }) };
      }
      if (reply === 'stored') throw new PgStashError('assert', `'${check.path}': read as stored unasked`);
      const decoded = { sha256: reply.storedSha256, size: reply.size };
      return {
        outcome: { check, size: reply.size },
        ...(stat === undefined ? {} : { entry: { ...stat, stored: decoded } }),
      };
    } catch (error) {
      return { outcome: { check, problem: problemOf(error) } };
    }
  };
  // A file the ledger will likely show unchanged costs a stat; others their stored bytes (a WAL file's are unknown:
  // all alike, so they keep their order).
  const weight = ({ check, recorded }: Pending<T>): number =>
    pass.sinceLast && recorded?.sha256 === check.expect.sha256
      ? 0
      : (check.expect.storedSize ?? check.expect.size ?? 0);
  for await (const { result } of mapHeaviestFirst(withLedger(), one, {
    concurrency: pass.concurrency,
    window: READ_WINDOW,
    weight,
  })) {
    const { outcome, entry } = result;
    counts.checked++;
    if (outcome.problem === undefined) {
      if (outcome.size === undefined) counts.unchanged++;
      else {
        counts.read++;
        if (outcome.asStored === true) counts.asStored++;
        counts.bytes += outcome.size;
      }
      if (entry !== undefined)
        await pass.writer?.add({ path: outcome.check.path, ...entry, sha256: outcome.check.expect.sha256 });
    } else counts.read++;
    yield outcome;
  }
}

/** The ledger's record of a file's stored bytes, carried over to the new ledger. */
function storedOf(recorded: LedgerEntry): Pick<LedgerEntry, 'stored'> {
  return recorded.stored === undefined ? {} : { stored: recorded.stored };
}
