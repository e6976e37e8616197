// A path with its symbolic links resolved, also when the path, or its end, does not exist (yet).
import { readlink, realpath } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** Links a path may go through before it is taken as it is (the kernel's own limit is 40). */
const MAX_LINKS = 40;

/**
 * `path` made absolute with links resolved as far as they lead: a directory a command is about to create (a
 * repository, a restore's destination) may not exist yet, and a link may point to where it will be made.
 */
export function realOrResolved(path: string): Promise<string> {
  return resolveFrom(resolve(path), 0);
}

async function resolveFrom(absolute: string, links: number): Promise<string> {
  try {
    return await realpath(absolute);
  } catch {
    const parent = dirname(absolute);
    if (parent === absolute || links > MAX_LINKS) return absolute;
    const link = await readlink(absolute).catch(() => undefined);
    if (link !== undefined) return resolveFrom(resolve(parent, link), links + 1);
    return resolve(await resolveFrom(parent, links + 1), absolute.slice(parent.length + 1));
  }
}
