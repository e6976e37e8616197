// Where a drill restores: a scratch directory of its own, or a --pg1-path that is provably not the stanza's cluster.
//
// The scratch directory (pgstash-drill-<stanza>-XXXXXX under drill-path) holds server/ (the server's log and
// pg_hba.conf, and its socket unless that path is too long for one: then the socket alone goes to a private
// directory under /tmp, always removed at the end), data/ (the restored cluster, unless --pg1-path names another
// place) and tablespaces/.
// mkdtemp makes it new, so nothing of anyone else's is in it. A --pg1-path given on the command line must be empty
// or missing, hold no postmaster.pid, and be neither the stanza's configured pg1-path (config file, environment)
// nor inside it, nor contain it: the production data directory is never a drill's destination.
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { errnoOf, PgStashError } from '../../common/errors.js';
import { realOrResolved } from '../../common/real-path.js';
import type { LoadedConfig } from '../../config/load.js';
import { markScratch, removeLeftovers } from './leftovers.js';
import type { ServerOwner } from './server.js';

export interface DrillPlace {
  /** The directory drill made, removed at the end (kept with drill-keep-failed when the drill fails). */
  readonly scratch: string;
  /** Where the cluster is restored. */
  readonly pgPath: string;
  /** pg1-path given for the drill: drill empties it at the end rather than removing the scratch's data/. */
  readonly given: boolean;
  /** It did not exist before the drill (removed at the end, not only emptied). */
  readonly made: boolean;
  /** Private directory (0700) for the server's log and pg_hba.conf: kept with the rest on a kept failure. */
  readonly serverDir: string;
  /** The server's socket directory: serverDir, or a short private directory under /tmp. */
  readonly socketDir: string;
  readonly tablespaceDir: string;
}

/** The longest unix socket path the kernel takes (sun_path, 108 bytes with its terminating zero). */
const SOCKET_PATH_MAX = 107;

/** `inner` is `outer` or below it (both resolved). */
function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);
}

/** Refuses a given pg1-path that is, holds or lies in the stanza's own data directory, runs a server, or has files. */
async function checkGivenPath(pgPath: string, configured: string | undefined, stanza: string): Promise<void> {
  if (configured !== undefined) {
    const [given, own] = [await realOrResolved(pgPath), await realOrResolved(configured)];
    if (within(given, own) || within(own, given)) {
      throw new PgStashError(
        'optionInvalidValue',
        `drill refuses --pg1-path '${pgPath}': it is or overlaps the data directory of stanza '${stanza}' ('${configured}')`,
        {
          hint: 'leave pg1-path out (drill makes a scratch directory under drill-path) or name an empty directory elsewhere',
        },
      );
    }
  }
  if (existsSync(join(pgPath, 'postmaster.pid'))) {
    throw new PgStashError(
      'pgRunning',
      `drill refuses --pg1-path '${pgPath}': it holds postmaster.pid (a server)`,
    );
  }
  let names: string[] = [];
  try {
    names = await readdir(pgPath);
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw error;
  }
  if (names.length > 0) {
    throw new PgStashError(
      'pathNotEmpty',
      `drill refuses --pg1-path '${pgPath}': the directory is not empty`,
      {
        hint: 'drill restores only into an empty or missing directory, and removes what it restored at the end',
      },
    );
  }
}

/** Makes the drill's scratch directory and checks the destination. */
export async function drillPlace(config: LoadedConfig, stanza: string): Promise<DrillPlace> {
  const given = config.source('pg1-path') === 'command-line';
  const configured = config.configured('pg1-path') as string | undefined;
  const givenPath = given ? config.require('pg1-path') : undefined;
  if (givenPath !== undefined) await checkGivenPath(givenPath, configured, stanza);
  const parent = config.get('drill-path') ?? tmpdir();
  if (configured !== undefined && within(await realOrResolved(parent), await realOrResolved(configured))) {
    throw new PgStashError(
      'optionInvalidValue',
      `drill-path '${parent}' is inside the data directory of stanza '${stanza}' ('${configured}')`,
    );
  }
  await mkdir(parent, { recursive: true });
  await removeLeftovers(parent, stanza);
  const scratch = await mkdtemp(join(parent, `pgstash-drill-${stanza}-`));
  const serverDir = join(scratch, 'server');
  await mkdir(serverDir, { mode: 0o700 });
  // The server's socket goes in <scratch>/server, unless that path would pass the kernel's limit for a unix socket
  // (a deep drill-path or TMPDIR): then in a private directory of its own under /tmp, as short as it gets.
  const socketDir =
    Buffer.byteLength(join(serverDir, '.s.PGSQL.65535')) <= SOCKET_PATH_MAX
      ? serverDir
      : await mkdtemp(join('/tmp', 'pgstash-drill-'));
  await markScratch(scratch, socketDir);
  return {
    scratch,
    pgPath: givenPath ?? join(scratch, 'data'),
    given,
    made: givenPath === undefined || !existsSync(givenPath),
    serverDir,
    socketDir,
    tablespaceDir: join(scratch, 'tablespaces'),
  };
}

/** As root: the scratch directory and the socket directory go to the server's owner, who must reach them. */
export async function handOver(place: DrillPlace, owner: ServerOwner): Promise<void> {
  if (process.geteuid?.() !== 0) return;
  for (const path of new Set([place.scratch, place.serverDir, place.socketDir]))
    await chown(path, owner.uid, owner.gid);
}

/**
 * Removes a socket directory of its own under /tmp (once the server is stopped): it holds nothing worth keeping,
 * even when a failed drill's directory is kept.
 */
export async function removeSocketDir(place: DrillPlace): Promise<void> {
  if (place.socketDir !== place.serverDir) await rm(place.socketDir, { recursive: true, force: true });
}

/** Removes what the drill made: the scratch directory, and what it restored into a given pg1-path. */
export async function removePlace(place: DrillPlace): Promise<void> {
  if (place.given) {
    if (place.made) await rm(place.pgPath, { recursive: true, force: true });
    else
      for (const name of await readdir(place.pgPath).catch(() => []))
        await rm(join(place.pgPath, name), { recursive: true, force: true });
  }
  await rm(place.scratch, { recursive: true, force: true });
}
