// Size-limited file systems (tmpfs, mounted as root) for tests of a full disk; unmounted at process exit at the latest.
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mount, unmount } from './mount.js';
import { postgresIds } from './postgres-user.js';
import { onProcessExit } from './reaper.js';

/** The file that fill() writes to use up the space; its name says what it is to whoever finds it. */
const FILLER = 'disk-full-test-filler';

export class Tmpfs {
  readonly path: string;
  readonly #unregister: () => void;

  private constructor(path: string, unregister: () => void) {
    this.path = path;
    this.#unregister = unregister;
  }

  /**
   * Mounts a tmpfs of `bytes` on `path` (created when missing), its root owned by postgres with `mode`. Fails,
   * naming mount's complaint, where the tests may not mount (they run as root): a full-disk test must not pass
   * by not running.
   */
  static async mount(path: string, options: { bytes: number; mode: number }): Promise<Tmpfs> {
    await mkdir(path, { recursive: true });
    const { uid, gid } = postgresIds();
    const settings = `size=${options.bytes},mode=${options.mode.toString(8)},uid=${uid},gid=${gid}`;
    mount(['-t', 'tmpfs', '-o', settings, 'tmpfs', path]);
    const unregister = onProcessExit('mount', () => unmount(path));
    return new Tmpfs(path, unregister);
  }

  /** Changes the size in place; what is stored stays. */
  resize(bytes: number): void {
    mount(['-o', `remount,size=${bytes}`, this.path]);
  }

  /**
   * Writes a filler file (owned by root) until the file system is full, then gives back `leaveBytes` (in whole
   * pages). Filling to the end rather than to a size measured first: a server may be writing here meanwhile.
   */
  async fill(leaveBytes: number): Promise<void> {
    const path = join(this.path, FILLER);
    const handle = await open(path, 'w');
    try {
      const piece = Buffer.alloc(1024 * 1024);
      for (;;) {
        try {
          await handle.write(piece);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
      const { size } = await handle.stat();
      await handle.truncate(Math.max(0, size - leaveBytes));
    } finally {
      await handle.close();
    }
  }

  async unfill(): Promise<void> {
    await rm(join(this.path, FILLER), { force: true });
  }

  unmount(): void {
    this.#unregister();
    unmount(this.path);
  }
}
