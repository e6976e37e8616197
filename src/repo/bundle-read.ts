// Reads members of one bundle forward from one streamed ranged read per run of neighbours (restore of a bundle).
//
// Why: reading a batch of members by ranged reads of their stretch made a restore of a pgbench scale 10 cluster from S3
// 30 GETs, about 20 of them for one 20 MiB bundle (pgBackRest streams each bundle whole: 7 requests in all). A
// stream holds what the reader takes next, never the whole bundle (up to repoN-bundle-size, 20 MiB by default).
import { PgStashError } from '../common/errors.js';
import type { ManifestFile } from './manifest.js';

/**
 * Members further apart than this are read by separate ranged reads: an incremental that needs a few members of a
 * prior's bundle does not stream the megabytes between them.
 */
export const BUNDLE_GAP_BYTES = 1024 * 1024;

/** A stretch of a bundle read by one ranged read: `files` in offset order, from `start` to `end` (exclusive). */
export interface BundleRun {
  readonly start: number;
  readonly end: number;
  readonly files: readonly ManifestFile[];
}

/** `files` of one bundle, in offset order, cut into runs wherever the gap between members passes `gapBytes`. */
export function bundleRuns(files: readonly ManifestFile[], gapBytes = BUNDLE_GAP_BYTES): BundleRun[] {
  const sorted = [...files].sort((a, b) => offsetOf(a) - offsetOf(b));
  const runs: BundleRun[] = [];
  let open: { start: number; end: number; files: ManifestFile[] } | undefined;
  for (const file of sorted) {
    const start = offsetOf(file);
    const end = start + file.stored.size;
    if (open !== undefined && start - open.end <= gapBytes) {
      open.files.push(file);
      open.end = Math.max(open.end, end);
      continue;
    }
    if (open !== undefined) runs.push(open);
    open = { start, end, files: [file] };
  }
  if (open !== undefined) runs.push(open);
  return runs;
}

function offsetOf(file: ManifestFile): number {
  const bundle = file.stored.bundle;
  if (bundle === undefined) throw new PgStashError('assert', `'${file.name}' is not in a bundle`);
  return bundle.offset;
}

/**
 * A stream of bytes that begins at byte `start` of an object, read forward: each `take` yields the bytes of one
 * stretch at or after the previous one, skipping what lies between. A take left unfinished is skipped past by the
 * next (and may not be resumed after it).
 */
export class ForwardReader {
  readonly #source: AsyncIterator<Buffer>;
  readonly #where: string;
  #pending: Buffer = Buffer.alloc(0);
  #position: number;
  #current = 0;

  constructor(source: AsyncIterable<Buffer>, start: number, where: string) {
    this.#source = source[Symbol.asyncIterator]();
    this.#position = start;
    this.#where = where;
  }

  /** The `length` bytes from byte `from`; fails (checksum, 26) when the object ends first. */
  async *take(from: number, length: number): AsyncGenerator<Buffer> {
    const id = ++this.#current;
    if (from < this.#position)
      throw new PgStashError('assert', `${this.#where}: byte ${from} asked for after byte ${this.#position}`);
    for (let left = from - this.#position; left > 0;) {
      const skipped = await this.#next(left);
      left -= skipped.length;
    }
    for (let left = length; left > 0;) {
      const piece = await this.#next(left);
      left -= piece.length;
      yield piece;
      if (id !== this.#current)
        throw new PgStashError('assert', `${this.#where}: a stretch read on after the next began`);
    }
  }

  /** Up to `most` bytes at the current position (at least one). */
  async #next(most: number): Promise<Buffer> {
    while (this.#pending.length === 0) {
      const next = await this.#source.next();
      if (next.done === true) {
        throw new PgStashError(
          'checksum',
          `${this.#where} is corrupt: it ends at byte ${this.#position}, before the members recorded in it`,
        );
      }
      this.#pending = next.value;
    }
    const piece = this.#pending.subarray(0, Math.min(most, this.#pending.length));
    this.#pending = this.#pending.subarray(piece.length);
    this.#position += piece.length;
    return piece;
  }
}
