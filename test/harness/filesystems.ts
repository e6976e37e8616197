// Real ext4, XFS, btrfs and overlay file systems for tests, mounted as root: the first three on a sparse image file
// through a loop device, overlay over directories on this machine's disk (what a container's root usually is).
// Unmounted at process exit at the latest.
//
// Why: restore writes large files with O_DIRECT (src/storage/direct-file.ts), which each file system implements
// in its own way; the machine's own disk is only one of them.
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mount, unmount } from './mount.js';
import { postgresIds } from './postgres-user.js';
import { onProcessExit } from './reaper.js';

export type FilesystemType = 'ext4' | 'xfs' | 'btrfs' | 'overlay';

export const FILESYSTEM_TYPES: readonly FilesystemType[] = ['ext4', 'xfs', 'btrfs', 'overlay'];

/** mkfs.xfs refuses file systems below 300 MiB; the image is sparse, so only what is written takes disk space. */
export const IMAGE_MIN_BYTES = 320 * 1024 * 1024;

/** mkfs for each type on an image: quiet, and overwriting the fresh image without asking. */
const MKFS: Readonly<Record<Exclude<FilesystemType, 'overlay'>, readonly string[]>> = {
  ext4: ['mkfs.ext4', '-q', '-F'],
  xfs: ['mkfs.xfs', '-q', '-f'],
  btrfs: ['mkfs.btrfs', '-q', '-f'],
};

export class TestFilesystem {
  readonly path: string;
  /** What holds the data: the image file, or the overlay's layer directories. */
  readonly #backing: string;
  readonly #unregister: () => void;

  private constructor(path: string, backing: string, unregister: () => void) {
    this.path = path;
    this.#backing = backing;
    this.#unregister = unregister;
  }

  /**
   * Mounts a `type` file system on `path` (created when missing), its root owned by `owner` with `mode`. An
   * image file system is `bytes` large (at least IMAGE_MIN_BYTES) in `<path>.img`; an overlay keeps its lower,
   * upper and work directories in `<path>.layers`. Fails naming the command that could not run (mkfs missing,
   * no loop device, not root): a test of a file system must not pass by not running.
   */
  static async mount(
    path: string,
    options: { type: FilesystemType; bytes?: number; owner: 'postgres' | 'root'; mode: number },
  ): Promise<TestFilesystem> {
    let backing: string;
    if (options.type === 'overlay') {
      backing = `${path}.layers`;
      const lower = join(backing, 'lower');
      const upper = join(backing, 'upper');
      const work = join(backing, 'work');
      for (const dir of [lower, upper, work]) await mkdir(dir, { recursive: true });
      await mkdir(path, { recursive: true });
      mount(['-t', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, 'overlay', path]);
    } else {
      backing = `${path}.img`;
      await writeFile(backing, '');
      await truncate(backing, Math.max(options.bytes ?? 0, IMAGE_MIN_BYTES));
      run([...MKFS[options.type], backing]);
      await mkdir(path, { recursive: true });
      // -o loop: mount sets up a loop device that is released with the unmount.
      mount(['-t', options.type, '-o', 'loop', backing, path]);
    }
    const unregister = onProcessExit('mount', () => unmount(path));
    if (options.owner === 'postgres') {
      const { uid, gid } = postgresIds();
      await chown(path, uid, gid);
    }
    await chmod(path, options.mode);
    return new TestFilesystem(path, backing, unregister);
  }

  /** Unmounts and removes what held the data. */
  async unmount(): Promise<void> {
    this.#unregister();
    unmount(this.path);
    await rm(this.#backing, { recursive: true, force: true });
  }
}

function run(argv: readonly string[]): void {
  const [program = '', ...args] = argv;
  try {
    execFileSync(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`${argv.join(' ')} failed: ${stderr || String(error)}`);
  }
}
