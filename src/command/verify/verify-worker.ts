// Worker thread entry of verify: reads the repository files the main thread hands it to their end, checked.
import { workerData } from 'node:worker_threads';
import type { RepoOptions } from '../../config/load.js';
import { serveJobs } from '../../io/worker/serve.js';
import { Repository } from '../../repo/repository.js';
import { readDecoded, storedMatches, type DecodedFile, type StoredCheck } from '../../repo/verify-files.js';

export interface VerifyWorkerData {
  readonly repo: RepoOptions;
  readonly stanza: string;
  /** The stanza's data key, already unwrapped by the main thread (no scrypt per worker). */
  readonly key: Uint8Array | undefined;
}

/**
 * One file to read; the reply is what decoding it found, 'missing', or 'stored' when its stored bytes hash to
 * `storedSha256` (the ledger's record of a verify that decoded them). Damage comes back as the error.
 */
export interface VerifyJob {
  readonly check: StoredCheck;
  readonly storedSha256?: string | undefined;
}

export type VerifyReply = DecodedFile | 'missing' | 'stored';

const data = workerData as VerifyWorkerData;
// Blocking I/O: lz4 then decodes on this thread (io/frame/lz4-decode.ts), whose memory stays flat over gigabytes.
const repo = await Repository.openInWorker(
  data.repo,
  data.stanza,
  data.key === undefined ? undefined : Buffer.from(data.key),
);

serveJobs<VerifyJob, VerifyReply>(async ({ check, storedSha256 }) => {
  if (storedSha256 !== undefined) {
    const matches = await storedMatches(repo, check, storedSha256);
    if (matches !== false) return matches === 'missing' ? 'missing' : 'stored';
  }
  // Not recorded, or changed since: decoded, which names the damage if there is any.
  return readDecoded(repo, check);
});
