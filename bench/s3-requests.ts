// Requests an S3 bench run made, by operation, from the test server's access log (versitygw --access-log).
import { readFile, stat } from 'node:fs/promises';

/** Requests by S3 operation (ListObjectsV2, PutObject, UploadPart, ...), as the server logged them. */
export type RequestCounts = Readonly<Record<string, number>>;

/** versitygw writes a line per request once it is answered: a short pause lets the last ones reach the file. */
const LOG_SETTLE_MS = 500;

export async function logSize(path: string): Promise<number> {
  return (await stat(path).catch(() => undefined))?.size ?? 0;
}

/** The access log's size once the requests made so far are in it: where the next requests' lines start. */
export async function settledLogSize(path: string): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, LOG_SETTLE_MS));
  return logSize(path);
}

/** The requests logged for `bucket` from byte `from` of the access log (to byte `to`), by operation. */
export async function requestsSince(
  path: string,
  from: number,
  bucket: string,
  to?: number,
): Promise<RequestCounts> {
  await new Promise((resolve) => setTimeout(resolve, LOG_SETTLE_MS));
  const text = (await readFile(path)).subarray(from, to).toString('utf8');
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields[1] !== bucket) continue;
    const operation = /\bs3_(\w+)\b/.exec(line)?.[1] ?? 'unknown';
    counts[operation] = (counts[operation] ?? 0) + 1;
  }
  return counts;
}

/** Total requests of a count. */
export function totalRequests(counts: RequestCounts): number {
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}
