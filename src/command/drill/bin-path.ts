// Where the PostgreSQL programs of the backup's major version are: drill-bin-path, or the usual packaged places.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PgStashError } from '../../common/errors.js';

/** Debian/Ubuntu (apt.postgresql.org) and Red Hat (PGDG) layouts, by major version. */
function packagedBinDirs(version: string): string[] {
  return [`/usr/lib/postgresql/${version}/bin`, `/usr/pgsql-${version}/bin`];
}

/**
 * The directory holding `postgres` for PostgreSQL `version` (the backup's, e.g. '15'): `configured` when given
 * (drill-bin-path), else the first packaged location that has it. Fails with 111 naming where it looked.
 */
export function serverBinDir(version: string, configured: string | undefined): string {
  const candidates = configured === undefined ? packagedBinDirs(version) : [configured];
  const found = candidates.find((dir) => existsSync(join(dir, 'postgres')));
  if (found !== undefined) return found;
  throw new PgStashError(
    'drillStart',
    `no PostgreSQL ${version} server programs in ${candidates.map((dir) => `'${dir}'`).join(' or ')}`,
    {
      hint: `install PostgreSQL ${version} on this host, or set drill-bin-path to the directory holding postgres`,
    },
  );
}

/** pg_amcheck beside the server programs, when installed. */
export function amcheckPath(binDir: string): string | undefined {
  const path = join(binDir, 'pg_amcheck');
  return existsSync(path) ? path : undefined;
}
