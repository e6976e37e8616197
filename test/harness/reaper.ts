// Safety net: stops test servers and removes temp dirs that a test process leaves behind when it exits or is signalled.

/**
 * Servers are stopped first, then file systems mounted by tests are unmounted, then directories are removed: a
 * data directory is never deleted under a running server, nor a mount point with a file system on it. Tests clean up after themselves (afterAll -> destroy); this only catches what a failing or
 * interrupted test file left behind.
 */
export type CleanupPhase = 'server' | 'mount' | 'dir';

type Cleanup = () => void;

const pending: Record<CleanupPhase, Set<Cleanup>> = { server: new Set(), mount: new Set(), dir: new Set() };
let installed = false;

/**
 * Registers a synchronous cleanup (it runs inside process 'exit', where nothing asynchronous completes) and
 * returns the function that unregisters it once the resource was released the ordinary way.
 */
export function onProcessExit(phase: CleanupPhase, cleanup: Cleanup): () => void {
  install();
  pending[phase].add(cleanup);
  return () => {
    pending[phase].delete(cleanup);
  };
}

/** Runs and forgets every registered cleanup now, phase by phase. Errors are reported, not thrown. */
export function runProcessExitCleanups(): void {
  for (const phase of ['server', 'mount', 'dir'] as const) {
    for (const cleanup of [...pending[phase]]) {
      pending[phase].delete(cleanup);
      try {
        cleanup();
      } catch (error) {
        process.stderr.write(
          `test harness cleanup failed: ${error instanceof Error ? error.message : String(error)}\n`,
        );
      }
    }
  }
}

/** How many cleanups are still registered (for the harness's own tests). */
export function pendingCleanups(phase: CleanupPhase): number {
  return pending[phase].size;
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runProcessExitCleanups);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      runProcessExitCleanups();
      // Give the signal its usual effect (or to whoever else listens) now that our servers are gone.
      process.removeListener(signal, handler);
      process.kill(process.pid, signal);
    };
    process.on(signal, handler);
  }
}
