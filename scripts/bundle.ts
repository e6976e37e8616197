// Bundles the compiled CLI (dist/src) into dist/bundle: one module graph per command, loaded in a few files.
// Why: PostgreSQL starts a new pgstash process per WAL segment, and resolving ~100 small ESM files costs more
// CPU than the work itself; a bundle with code splitting keeps each command's imports lazy but cheap.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Stale chunks from earlier builds would pile up: start from an empty directory.
rmSync('dist/bundle', { recursive: true, force: true });

await build({
  // Worker thread entries keep their base names: the code that starts them finds them next to itself, both in
  // dist/src and in dist/bundle.
  entryPoints: {
    cli: 'dist/src/cli.js',
    'backup-worker': 'dist/src/command/backup/backup-worker.js',
    'restore-worker': 'dist/src/command/restore/restore-worker.js',
  },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // Native addons and optional native code stay in node_modules.
  external: ['lz4-napi', '@mongodb-js/zstd', 'pg-native'],
  // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __pgstashRequire } from 'node:module'; const require = __pgstashRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
