// Real ext4, XFS and btrfs file systems for tests, each on a sparse image file loop-mounted as root; unmounted at
// process exit at the latest.
//
// Why: restore writes large files with O_DIRECT (src/storage/direct-file.ts), which each file system implements
// in its own way; the machine's own disk is only one of them.
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, rm, truncate, writeFile } from 'node:fs/promises';
import { mount, unmount } from './mount.js';
import { postgresIds } from './postgres-user.js';
import { onProcessExit } from './reaper.js';

export type LoopFsType = 'ext4' | 'xfs' | 'btrfs';

export const LOOP_FS_TYPES: readonly LoopFsType[] = ['ext4', 'xfs', 'btrfs'];

/** mkfs.xfs refuses file systems below 300 MiB; the image is sparse, so only what is written takes disk space. */
export const LOOP_FS_MIN_BYTES = 320 * 1024 * 1024;

/** mkfs for each type: quiet, and overwriting the fresh image without asking. */
const MKFS: Readonly<Record<LoopFsType, readonly string[]>> = {
  ext4: ['mkfs.ext4', '-q', '-F'],
  xfs: ['mkfs.xfs', '-q', '-f'],
  btrfs: ['mkfs.btrfs', '-q', '-f'],
};

export class LoopFilesystem {
  readonly path: string;
  readonly #image: string;
  readonly #unregister: () => void;

  private constructor(path: string, image: string, unregister: () => void) {
    this.path = path;
    this.#image = image;
    this.#unregister = unregister;
  }

  /**
   * Makes a `type` file system of `bytes` (at least LOOP_FS_MIN_BYTES) in the image `<path>.img` and mounts it
   * on `path` (created when missing), its root owned by `owner` with `mode`. Fails naming the command that
   * could not run (mkfs missing, no loop device, not root): a test of a file system must not pass by not running.
   */
  static async mount(
    path: string,
    options: { type: LoopFsType; bytes?: number; owner: 'postgres' | 'root'; mode: number },
  ): Promise<LoopFilesystem> {
    const image = `${path}.img`;
    await writeFile(image, '');
    await truncate(image, Math.max(options.bytes ?? 0, LOOP_FS_MIN_BYTES));
    run([...MKFS[options.type], image]);
    await mkdir(path, { recursive: true });
    // -o loop: mount sets up a loop device that is released with the unmount.
    mount(['-t', options.type, '-o', 'loop', image, path]);
    const unregister = onProcessExit('mount', () => unmount(path));
    if (options.owner === 'postgres') {
      const { uid, gid } = postgresIds();
      await chown(path, uid, gid);
    }
    await chmod(path, options.mode);
    return new LoopFilesystem(path, image, unregister);
  }

  /** Unmounts and removes the image. */
  async unmount(): Promise<void> {
    this.#unregister();
    unmount(this.path);
    await rm(this.#image, { force: true });
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
