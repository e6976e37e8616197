// User and group ids to names and back (/etc/passwd, /etc/group) for manifests and restore; which owners we may set.
import { readFileSync } from 'node:fs';

interface IdTable {
  readonly byId: Map<number, string>;
  readonly byName: Map<string, number>;
}

function load(file: string): IdTable {
  const byId = new Map<number, string>();
  const byName = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // No such database (a minimal container): ids stay numeric.
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    const value = Number(id);
    if (name === undefined || name === '' || !Number.isInteger(value)) continue;
    if (!byId.has(value)) byId.set(value, name);
    byName.set(name, value);
  }
  return { byId, byName };
}

let users: IdTable | undefined;
let groups: IdTable | undefined;

export function userName(uid: number): string | undefined {
  users ??= load('/etc/passwd');
  return users.byId.get(uid);
}

export function groupName(gid: number): string | undefined {
  groups ??= load('/etc/group');
  return groups.byId.get(gid);
}

export function userId(name: string): number | undefined {
  users ??= load('/etc/passwd');
  return users.byName.get(name);
}

export function groupId(name: string): number | undefined {
  groups ??= load('/etc/group');
  return groups.byName.get(name);
}

/** Who owns a file or directory. */
export interface FileOwner {
  readonly uid: number;
  readonly gid: number;
}

/**
 * The owner to give what this process creates in a directory owned by `directory`: that owner when the process runs
 * as root and the directory is another user's (a command run by hand as root in the postgres user's repository or
 * log path, whose files root kept would stop that user's next archive-push, backup or file log); undefined otherwise.
 */
export function ownerToKeep(directory: FileOwner): FileOwner | undefined {
  return process.geteuid?.() === 0 && directory.uid !== 0
    ? { uid: directory.uid, gid: directory.gid }
    : undefined;
}

/**
 * Whether this process may give a file it made to `uid` and `gid` (chown): root gives it to anyone; any other
 * user may only keep it and choose among its own groups. A non-root restore leaves what it writes as it is
 * otherwise, for instance in a data directory whose group (root's, say) it is not a member of.
 */
export function mayChown(uid: number, gid: number): boolean {
  const euid = process.geteuid?.();
  if (euid === undefined) return false;
  if (euid === 0) return true;
  return uid === euid && (gid === process.getegid?.() || (process.getgroups?.() ?? []).includes(gid));
}
