// How much of a file is in the page cache, by util-linux's fincore: what tests of direct I/O look at.
import { execFile } from 'node:child_process';

/** Bytes of `path` in the page cache. */
export async function cachedBytes(path: string): Promise<number> {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], (error, out) => {
      if (error === null) resolve(out);
      else reject(error);
    });
  });
  return Number(stdout.trim());
}
