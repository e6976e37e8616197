// mount(8) and umount(8) for test file systems, as root: a failure names the command and mount's complaint.
import { execFileSync } from 'node:child_process';

/** Runs `mount <args>`; throws with mount's own message when it refuses. */
export function mount(args: readonly string[]): void {
  try {
    execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`mount ${args.join(' ')} failed: ${stderr || String(error)}`);
  }
}

/** Lazy: a process still in the directory (a server the test left) does not keep the mount. */
export function unmount(path: string): void {
  execFileSync('umount', ['--lazy', path], { stdio: 'ignore' });
}
