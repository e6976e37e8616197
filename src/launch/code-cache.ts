// Runs the CommonJS CLI bundle with V8's code cache, kept per user in a private directory: no compiling per process.
//
// Why: PostgreSQL starts one pgstash per WAL segment. Measured on this project's archive-get of a 16 MiB segment
// (Node 20, median of 15 interleaved runs): 123 ms without a cache, 104 ms with one. Node 22.1+ has
// module.enableCompileCache, Node 20 has nothing: this works the same on both, with the cache V8 itself offers.
//
// The cache is code that runs as the user: it lives in a directory that user owns and nobody else can write to.
// A directory in the temp dir that fails that check (someone else made it first) means no cache, never a
// foreign one.
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import * as nodeModule from 'node:module';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { constants, Script } from 'node:vm';
import { forgetLauncherTunables } from './allocator.js';

/** The environment variable Node's own compile cache honours; any value turns this cache off too. */
export const DISABLE_VARIABLE = 'NODE_DISABLE_COMPILE_CACHE';

/**
 * `<tmpdir>/pgstash-<uid>`, created 0700 when missing; undefined when it is not a directory owned by this user
 * that only this user may write to, when others could rename it away (a temp dir that others may write to
 * without the sticky bit), or when the platform has no uids.
 */
export function privateCacheDirectory(root: string = tmpdir()): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  try {
    const parent = statSync(root);
    if ((parent.mode & 0o022) !== 0 && (parent.mode & 0o1000) === 0) return undefined;
  } catch {
    return undefined;
  }
  const dir = join(root, `pgstash-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch {
    // Exists already (checked below), or cannot be made (then lstat fails too).
  }
  try {
    const stats = lstatSync(dir);
    if (!stats.isDirectory() || stats.uid !== uid || (stats.mode & 0o022) !== 0) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

/**
 * Where the cache of `file` goes for `variant`: one name per install (the bundle's path), per Node (V8 rejects
 * another version's cache anyway) and per build of the bundle (its size and mtime), so two installs or two Node
 * versions on one host do not overwrite each other's. The build comes last: see staleCaches.
 */
export function cacheFileName(file: string, variant: string): string {
  const stats = statSync(file);
  return `${cachePrefix(file, variant)}${shortHash(`${stats.size}\0${stats.mtimeMs}`)}.v8cache`;
}

/** The part of cacheFileName that every build of one install shares. */
function cachePrefix(file: string, variant: string): string {
  return `${basename(file)}-${variant}-${process.version}-${process.arch}-${shortHash(file)}-`;
}

/**
 * 32-bit FNV-1a of `text`, 8 hex digits: the names only need to differ, nobody else writes in the directory.
 * Not node:crypto: loading it costs a process ~2 ms of CPU (measured on a busy machine where `node -e 0` took
 * 52 ms), and an archive-push answered from the spool needs no crypto at all.
 */
export function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, '0');
}

/**
 * The caches in `dir` of earlier builds of `file` for `variant` (same install, Node and variant, another build):
 * after an upgrade nothing reads them again, and without this each upgrade would leave one per command.
 */
export function staleCaches(dir: string, file: string, variant: string): string[] {
  const current = cacheFileName(file, variant);
  const prefix = cachePrefix(file, variant);
  return readdirSync(dir).filter(
    (name) =>
      name !== current && name.startsWith(prefix) && /^[0-9a-f]{8}\.v8cache$/.test(name.slice(prefix.length)),
  );
}

/** What runCommonJs did with the cache, for tests: 'off' when none was used and none will be written. */
export type CacheUse = 'off' | 'used' | 'written-at-exit';

/**
 * Runs `file` (a CommonJS module) as `require` would, but compiled from the cache for `variant` in `cacheDir`
 * when that cache is valid. Without a valid cache, one is written when the process exits: V8 then includes every
 * function the run compiled, not just the top level, so each command has its own (`variant`). A cache that
 * cannot be read or written only costs the time it would have saved.
 */
export function runCommonJs(file: string, cache: { dir: string; variant: string } | undefined): CacheUse {
  return loadCommonJs(file, cache).use;
}

/**
 * runCommonJs, returning the module's exports too. `writeCache: false` only reads a cache (a worker thread: the
 * main thread, which loads the same file first, writes it).
 */
export function loadCommonJs(
  file: string,
  cache: { dir: string; variant: string } | undefined,
  options: { writeCache?: boolean } = {},
): { use: CacheUse; exports: unknown } {
  const source = readFileSync(file, 'utf8');
  const cachePath = cache === undefined ? undefined : join(cache.dir, cacheFileName(file, cache.variant));
  let cachedData: Buffer | undefined;
  if (cachePath !== undefined) {
    try {
      cachedData = readFileSync(cachePath);
    } catch {
      // No cache yet.
    }
  }
  // CommonJS's own wrapper, on the first line so that line numbers in stack traces stay those of the file.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    ...(cachedData === undefined ? {} : { cachedData }),
    // A dynamic import() inside the bundle resolves as it would in the main context.
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  let use: CacheUse = cachePath === undefined ? 'off' : 'used';
  const stale = cachedData === undefined || script.cachedDataRejected === true;
  if (cache !== undefined && cachePath !== undefined && stale) {
    if (options.writeCache === false) use = 'off';
    else {
      use = 'written-at-exit';
      process.once('exit', () => {
        writeCache(cachePath, script);
        removeStaleCaches(cache.dir, file, cache.variant);
      });
    }
  }
  const wrapper = script.runInThisContext() as (
    exports: object,
    require: NodeJS.Require,
    module: { exports: object },
    filename: string,
    dirname: string,
  ) => void;
  const module = { exports: {} };
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return { use, exports: module.exports };
}

/** Best effort, like the cache itself: a cache that cannot be removed only takes room. */
function removeStaleCaches(dir: string, file: string, variant: string): void {
  try {
    for (const name of staleCaches(dir, file, variant)) unlinkSync(join(dir, name));
  } catch {
    // Another process removed it first, or the directory cannot be listed.
  }
}

/** Atomically (a reader never sees half a cache); failures are ignored. */
function writeCache(path: string, script: Script): void {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, script.createCachedData(), { mode: 0o600 });
    renameSync(temp, path);
  } catch {
    // The next run compiles again; nothing else depends on the cache.
    try {
      unlinkSync(temp);
    } catch {
      // Never written.
    }
  }
}

/** The cache directory to use: the private one (privateCacheDirectory), unless NODE_DISABLE_COMPILE_CACHE is set. */
export function cacheDirectory(): string | undefined {
  return process.env[DISABLE_VARIABLE] === undefined ? privateCacheDirectory() : undefined;
}

/**
 * What bin/pgstash runs: the CLI bundle, with the cache of the command named in `argv` (the first word that is
 * not an option, when it looks like a command name) unless NODE_DISABLE_COMPILE_CACHE is set.
 */
export function launch(file: string, argv: readonly string[]): void {
  forgetLauncherTunables(process.env);
  const dir = cacheDirectory();
  const word = argv.find((arg) => !arg.startsWith('-'));
  const variant = word !== undefined && /^[a-z][a-z-]{0,30}$/.test(word) ? word : 'other';
  sizeThreadPool(variant);
  if (dir !== undefined) enableModuleCompileCache(dir);
  runCommonJs(file, dir === undefined ? undefined : { dir, variant });
}

/** Where Node's own compile cache goes inside the private cache directory. */
export const MODULE_CACHE_SUBDIRECTORY = 'modules';

/**
 * Turns on Node's compile cache (Node 22.1 and later: `module.enableCompileCache`) in `<dir>/modules` for what the
 * bundle requires from node_modules: the cloud SDKs, which a command on an object store loads in every process
 * (archive-push and archive-get: one per WAL segment), and the worker threads' modules. The bundle itself keeps
 * V8's cache above (it is compiled as a script, which Node's cache does not cover). Measured on archive-get of a
 * 16 MiB segment from S3 (versitygw, Node 24, medians of 20 interleaved pairs): 208 ms without, 196 ms with. Returns
 * whether it was turned on ('unsupported' on Node 20, which has no such cache).
 */
export function enableModuleCompileCache(dir: string): 'enabled' | 'unsupported' | 'failed' {
  const { enableCompileCache, constants: moduleConstants } = nodeModule as typeof nodeModule & {
    enableCompileCache?: (directory: string) => { status: number };
    constants?: { compileCacheStatus?: Readonly<Record<string, number>> };
  };
  const statuses = moduleConstants?.compileCacheStatus;
  if (enableCompileCache === undefined || statuses === undefined) return 'unsupported';
  try {
    const { status } = enableCompileCache(join(dir, MODULE_CACHE_SUBDIRECTORY));
    // ALREADY_ENABLED: NODE_COMPILE_CACHE was set by the user, whose directory stays.
    return status === statuses['ENABLED'] || status === statuses['ALREADY_ENABLED'] ? 'enabled' : 'failed';
  } catch {
    return 'failed';
  }
}

/** libuv's thread pool for a restore (see sizeThreadPool). */
export const RESTORE_THREAD_POOL_SIZE = 16;

/**
 * Gives a restore a larger libuv thread pool, unless UV_THREADPOOL_SIZE is set already. Every worker thread
 * shares the process's pool, for zstd and gzip, fsyncs and file I/O; with libuv's 4 threads, the fsyncs a restore
 * keeps in flight behind its writes (4 per worker) left zstd frames waiting for a thread. Measured on the pgbench
 * table, zst, process-max 2 (medians of 8): 2.73 s with 16 threads against 2.91 s with 4, peak RSS 180 against
 * 165 MiB. A backup (which syncs at the end) gained nothing and took 30 MiB more. libuv reads the variable when
 * the pool first starts, so this runs before any pool work.
 */
export function sizeThreadPool(command: string): void {
  if (process.env['UV_THREADPOOL_SIZE'] === undefined && command === 'restore')
    process.env['UV_THREADPOOL_SIZE'] = String(RESTORE_THREAD_POOL_SIZE);
}
