// Console output (stdout, stderr) written whole and in order, whatever mode the descriptor is in.
import { writeSync } from 'node:fs';
import { errnoOf } from './errors.js';

/** A one-element buffer to sleep on (Atomics.wait) while a full pipe drains. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `text` to `fd`. A console descriptor may be non-blocking: Node makes a pipe so as soon as anything
 * touches process.stdout or process.stderr, and a pipe's mode is shared by everyone writing to it. A full pipe (a
 * slow reader: `| tee`, cron's mailer, a test harness) then makes writeSync write part of the text or fail with
 * EAGAIN, and the rest was lost. This waits a millisecond and writes the rest, as a blocking write would.
 * EPIPE or EBADF (nobody reads any more, e.g. `| head`) ends the write silently: output nobody reads must not fail a
 * command.
 */
export function writeConsole(fd: number, text: string): void {
  let rest = Buffer.from(text);
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(fd, rest));
    } catch (error) {
      if (errnoOf(error) !== 'EAGAIN') return;
      Atomics.wait(PAUSE, 0, 0, 1);
    }
  }
}
