// What a drill killed without cleaning up (kill -9, a crash, the host's OOM killer) left: its restored server still
// running and its scratch directory. The next drill of the stanza stops that server and removes the directory.
//
// Each drill writes `drill.pid` (its pid and host) into its scratch directory, and removes it when it ends (with the
// directory, or alone when drill-keep-failed keeps a failed drill's directory for inspection). A scratch directory
// whose drill.pid names a process of this host that no longer exists is a leftover. Nothing in it is trusted beyond
// that pid: the server stopped is the one whose working directory is the scratch's data/ (a postmaster runs in its
// data directory), and only the scratch itself and a socket directory of drill's own name under /tmp are removed.
import { readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { errnoOf } from '../../common/errors.js';
import { log } from '../../common/log.js';

const MARKER = 'drill.pid';
/** How long a leftover server gets to stop after SIGQUIT (immediate shutdown) before SIGKILL. */
const STOP_WAIT_MS = 10_000;

/** Marks `scratch` as belonging to this (running) drill, whose server's socket is in `socketDir`. */
export async function markScratch(scratch: string, socketDir: string): Promise<void> {
  const marker = { pid: process.pid, host: hostname(), socketDir };
  await writeFile(join(scratch, MARKER), JSON.stringify(marker) + '\n', { mode: 0o600 });
}

/** The drill ended and keeps its directory: it is no leftover. */
export async function unmarkScratch(scratch: string): Promise<void> {
  await rm(join(scratch, MARKER), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's.
    return errnoOf(error) !== 'ESRCH';
  }
}

/** The pid of the postmaster running in `dataDir`, if one runs there (checked by its working directory). */
async function postmasterOf(dataDir: string): Promise<number | undefined> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = Number(text?.split('\n', 1)[0]);
  if (!Number.isSafeInteger(pid) || pid <= 1) return undefined;
  const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => undefined);
  return cwd === dataDir ? pid : undefined;
}

async function stopServer(pid: number): Promise<void> {
  process.kill(pid, 'SIGQUIT');
  for (const deadline = Date.now() + STOP_WAIT_MS; Date.now() < deadline; await sleep(100))
    if (!alive(pid)) return;
  process.kill(pid, 'SIGKILL');
  while (alive(pid)) await sleep(100);
}

interface Marker {
  readonly pid: number;
  /** A socket directory of drill's own under /tmp, to remove too (anything else in the marker is ignored). */
  readonly socketDir?: string;
}

/** The marker of a drill of this host, if `scratch` has a readable one. */
async function markerOf(scratch: string): Promise<Marker | undefined> {
  const text = await readFile(join(scratch, MARKER), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as { pid?: unknown; host?: unknown; socketDir?: unknown };
    const pid = value.pid;
    if (value.host !== hostname() || typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 1)
      return undefined;
    const socketDir =
      typeof value.socketDir === 'string' && /^\/tmp\/pgstash-drill-[A-Za-z0-9]{6}$/.test(value.socketDir)
        ? value.socketDir
        : undefined;
    return { pid, ...(socketDir === undefined ? {} : { socketDir }) };
  } catch {
    return undefined;
  }
}

/** Stops the servers and removes the directories of drills of `stanza` under `drillPath` that died mid-way. */
export async function removeLeftovers(drillPath: string, stanza: string): Promise<void> {
  const names = await readdir(drillPath).catch(() => [] as string[]);
  for (const name of names.filter((entry) => entry.startsWith(`pgstash-drill-${stanza}-`))) {
    const scratch = join(drillPath, name);
    const marker = await markerOf(scratch);
    if (marker === undefined || alive(marker.pid)) continue;
    const server = await postmasterOf(join(scratch, 'data'));
    if (server !== undefined) await stopServer(server);
    if (marker.socketDir !== undefined) await rm(marker.socketDir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
    log.warn(
      `drill: removed '${scratch}', left by a drill (process ${marker.pid}) that ended without cleaning up` +
        (server === undefined ? '' : `; stopped its server (process ${server})`),
    );
  }
}
