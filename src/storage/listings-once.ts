// A view of a driver whose listings are each made once: for a report (info) that reads the repository as it is at
// one moment and lists the same directory several ways (archive range, timelines, each backup's WAL, the key).
import type { Driver, StorageInfo } from './driver.js';

/**
 * `driver` with each directory listed at most once: a list with a `prefix` is served from the whole directory's
 * listing, so that the stanza key's lookup and the backups' listing of one directory make one request; a read (or
 * info) of a file its directory's listing did not show answers missing without a request (an optional file:
 * drill.history and its copy). Any write through the view forgets every listing. Only for a command that reads,
 * briefly: a listing is held in memory and never refreshed.
 */
export function listingsOnce(driver: Driver): Driver {
  const listings = new Map<string, Promise<StorageInfo[]>>();
  /** The names in each directory listed so far (only once its listing is complete). */
  const files = new Map<string, Set<string>>();
  const listed = (path: string): Promise<StorageInfo[]> => {
    let listing = listings.get(path);
    if (listing === undefined) {
      listing = (async () => {
        const entries: StorageInfo[] = [];
        for await (const entry of driver.list(path)) entries.push(entry);
        files.set(path, new Set(entries.map((entry) => entry.name)));
        return entries;
      })();
      // A failed listing is asked for again next time, not remembered.
      listing.catch(() => listings.delete(path));
      listings.set(path, listing);
    }
    return listing;
  };
  /** Whether a listing made through the view shows that `path` is not there. */
  const knownMissing = (path: string): boolean => {
    const slash = path.lastIndexOf('/');
    const names = files.get(slash < 0 ? '' : path.slice(0, slash));
    return names !== undefined && !names.has(path.slice(slash + 1));
  };
  const forgetting =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      listings.clear();
      files.clear();
      return write(...args);
    };
  const view: Driver = {
    capabilities: driver.capabilities,
    location: driver.location,
    info: (path) => (knownMissing(path) ? Promise.resolve(undefined) : driver.info(path)),
    async *list(path, options) {
      const prefix = options?.prefix ?? '';
      for (const entry of await listed(path)) if (entry.name.startsWith(prefix)) yield entry;
    },
    openRead: (path, options) =>
      knownMissing(path) ? Promise.resolve(undefined) : driver.openRead(path, options),
    read: (path, options) => (knownMissing(path) ? Promise.resolve(undefined) : driver.read(path, options)),
    openWrite: forgetting((...args: Parameters<Driver['openWrite']>) => driver.openWrite(...args)),
    remove: forgetting((...args: Parameters<Driver['remove']>) => driver.remove(...args)),
    removeTree: forgetting((...args: Parameters<Driver['removeTree']>) => driver.removeTree(...args)),
    flush: () => driver.flush(),
  };
  if (driver.move !== undefined) {
    const move = driver.move.bind(driver);
    view.move = forgetting(move);
  }
  if (driver.makePath !== undefined) view.makePath = driver.makePath.bind(driver);
  if (driver.localPath !== undefined) view.localPath = driver.localPath.bind(driver);
  return view;
}
