// Loads a napi-rs native addon (lz4-napi, @mongodb-js/zstd, @node-rs/xxhash) by its platform package, synchronously.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * These packages are napi-rs builds whose loader picks a platform package, telling glibc from musl by reading
 * /usr/bin/ldd (lz4-napi) or with process.report.getReport() (zstd 1.2, 10-20 ms). On Linux the platform
 * package is required straight away, glibc or musl decided once from /usr/bin/ldd; anywhere else, or when that
 * fails, the package's own loader decides. A plain require, not import(): Node's ESM wrapper around a CommonJS
 * module costs several more milliseconds, paid by every archive-push and archive-get.
 */
export function loadNative<T>(linuxPackage: (libc: string) => string, fallback: string): T {
  const require = createRequire(import.meta.url);
  if (process.platform === 'linux') {
    try {
      libc ??= readFileSync('/usr/bin/ldd', 'latin1').includes('musl') ? 'musl' : 'gnu';
      return require(linuxPackage(`${process.arch}-${libc}`)) as T;
    } catch {
      // No ldd or no such platform package: let the package's loader decide.
    }
  }
  return require(fallback) as T;
}

let libc: string | undefined;
