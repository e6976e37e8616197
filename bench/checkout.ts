// Where the pgstash checkout is, found from this file whether it runs from bench/ (tsx) or dist/bench/ (built).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest directory above this module whose package.json is pgstash's. */
function findCheckout(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'pgstash'
    )
      return dir;
    if (dirname(dir) === dir)
      throw new Error(`unable to find the pgstash checkout above '${import.meta.url}'`);
  }
}

export const CHECKOUT = findCheckout();
/** The CLI users and archive_command run. */
export const PGSTASH_CLI = join(CHECKOUT, 'bin', 'pgstash');
