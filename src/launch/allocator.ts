// glibc allocator settings the launcher (bin/pgstash) starts node with, and their removal from what pgstash passes on.
//
// Why: the compression bindings return every decoded frame in a fresh 1 MiB allocation (grown in steps, each
// copied), freed only when V8 collects the Buffer. With glibc's defaults such blocks are mmapped and unmapped each
// time, and each of libuv's pool threads gets an arena of its own, so a restore touched new memory for nearly
// every frame; a page fault costs 2.3 µs on this project's machine. Measured on the pgbench restore (zst,
// process-max 2, medians of 4): 109,000 page faults, peak RSS 180 MiB, 2.64 s with the defaults; 33,500 faults,
// 168 MiB, 2.46 s with blocks up to 4 MiB taken from the heap (mmap_threshold), 32 MiB kept before trimming
// (trim_threshold) and two arenas (arena_max). archive-get, which keeps its few frames to the end, is unchanged.
// glibc reads GLIBC_TUNABLES only when a process starts, hence a shell line in the launcher; other C libraries
// ignore it.

/** Set by bin/pgstash when the GLIBC_TUNABLES it exported are its own, not the user's. */
export const LAUNCHER_MARK = 'PGSTASH_SET_TUNABLES';

/**
 * Removes the launcher's GLIBC_TUNABLES (and its mark) from `env`, so that the processes pgstash starts (initdb,
 * pg_ctl, PostgreSQL itself in the demo) run with the allocator settings they would have had. A user's own
 * GLIBC_TUNABLES stays.
 */
export function forgetLauncherTunables(env: NodeJS.ProcessEnv): void {
  if (env[LAUNCHER_MARK] !== '1') return;
  delete env['GLIBC_TUNABLES'];
  delete env[LAUNCHER_MARK];
}
