// The claim on a WAL file name in the archive: the one content (SHA-256) that name may ever be stored with.
//
// Archived WAL files are named `<wal file>-<sha256>.<ext>`, so two pushes of one name with different contents
// write two different files and nothing in the names stops the second. The claim is a small file whose name
// does not include the checksum, `<wal file>.claim` beside the segments, created with a conditional write
// (Driver `ifAbsent`: link(2) on posix, `If-None-Match: *` / `ifGenerationMatch=0` on object stores): of any
// number of concurrent pushes, on any hosts, exactly one creates it, and every push stores its data only once
// the claim names its content. A push of the same content (PostgreSQL retrying) finds its own checksum there
// and succeeds; another content fails with archiveDuplicate (45).
//
// A push killed between the claim and the data (kill -9, a crash) leaves a claim without data. That never lets
// another content in: the claim still names the first content, so a different one fails with 45, as it would
// had the push finished. Nor does it block the claiming cluster: PostgreSQL keeps the segment and retries the
// same content, which finds its own claim and stores the data. Only when that cluster is gone for good does the
// claim stay without data; the error then says so and names the claim file, for the DBA to decide.
//
// Repositories written before claims existed hold segments without one: archive-push still looks for stored
// copies first (WalArchive.find), so an existing copy with another content fails with 45 as before.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isPgStashError, PgStashError } from '../common/errors.js';
import { walClaimName } from './layout.js';
import type { Repository } from './repository.js';

/** What a claim file holds. */
interface Claim {
  readonly walFile: string;
  readonly sha256: string;
}

/**
 * Claims `walFileName` in `dir` for the content with `sha256`, or confirms that it is claimed for that content.
 * Throws archiveDuplicate (45) when it is claimed for another content. `hasData` tells, for the message, whether
 * the other content's data is stored (a claim without data is from a push that was interrupted).
 */
export async function claimWalName(
  repo: Repository,
  target: { dir: string; walFileName: string; sha256: string },
  hasData: (sha256: string) => Promise<boolean>,
): Promise<void> {
  const path = `${target.dir}/${walClaimName(target.walFileName)}`;
  const claim: Claim = { walFile: target.walFileName, sha256: target.sha256 };
  try {
    const stream = await repo.driver.openWrite(path, { ifAbsent: true });
    await pipeline(Readable.from([Buffer.from(`${JSON.stringify(claim)}\n`)]), stream);
    return;
  } catch (error) {
    if (!isPgStashError(error, 'fileExists')) throw error;
  }
  const existing = await readClaim(repo, path);
  if (existing.sha256 === target.sha256) return;
  const stored = await hasData(existing.sha256);
  throw new PgStashError(
    'archiveDuplicate',
    `WAL file '${target.walFileName}' already exists in the ${repo.name} archive with a different checksum ` +
      `(claimed for ${existing.sha256}${stored ? '' : ', whose push has not finished'})`,
    {
      hint: stored
        ? 'this is either a new cluster writing to the same stanza, or the archive is damaged'
        : `another cluster is archiving this WAL file into the same stanza; if its push was interrupted and it ` +
          `will never retry, remove '${repo.driver.location}/${path}'`,
    },
  );
}

async function readClaim(repo: Repository, path: string): Promise<Claim> {
  const where = `${repo.driver.location}/${path}`;
  const data = await repo.driver.read(path);
  if (data === undefined) {
    // Claims are never removed by pgstash: only by hand, between our create and this read.
    throw new PgStashError('fileMissing', `claim '${where}' disappeared while it was read`);
  }
  let claim: unknown;
  try {
    claim = JSON.parse(data.toString('utf8')) as unknown;
  } catch {
    claim = undefined;
  }
  const sha256 = (claim as Partial<Claim> | undefined)?.sha256;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new PgStashError('fileInvalid', `claim '${where}' is not a valid claim file`, {
      hint: 'the repository is damaged: remove the file if no stored copy of the WAL file needs it',
    });
  }
  return { walFile: (claim as Partial<Claim>).walFile ?? '', sha256 };
}
