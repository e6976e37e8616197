// Signals a running pgstash at a chosen moment: frozen first (SIGSTOP) so the signal lands while the moment lasts.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecResult } from './exec.js';
import { spawnPgstash } from './pgstash-process.js';

/**
 * Starts `pgstash <args>` as postgres and polls `ready()`. Once it holds, the process is frozen (SIGSTOP) and
 * `ready()` is asked again: still true, it gets `signal` and then SIGCONT, so the signal arrives in that state
 * (a file half written, a copy under way). Resolves to the signalled run's result, or to undefined when the run
 * ended before it could be caught (the caller may try again).
 */
export async function signalWhen(
  args: readonly string[],
  ready: () => Promise<boolean>,
  signal: NodeJS.Signals,
): Promise<ExecResult | undefined> {
  const run = spawnPgstash(args);
  let ended = false;
  void run.done.then(() => (ended = true));
  while (!ended) {
    if (await ready()) {
      run.kill('SIGSTOP');
      if (await ready()) {
        run.kill(signal);
        run.kill('SIGCONT');
        return run.done;
      }
      run.kill('SIGCONT');
    }
    await sleep(1);
  }
  await run.done;
  return undefined;
}
