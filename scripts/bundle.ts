// Bundles the compiled CLI (dist/src) into dist/bundle with esbuild: the CLI as one CommonJS file, the worker
// threads as ES modules.
// Why: PostgreSQL starts a new pgstash process per WAL segment. Resolving ~100 small ESM files costs more CPU
// than the work itself, and Node's ES module loader costs more than require(): measured on archive-get of a
// 16 MiB segment (Node 20, median of 15 interleaved runs), 143 ms split into ES module chunks, 131 ms as one ES
// module, 124 ms as one CommonJS file, 104 ms once V8's code cache is used (src/launch/code-cache.ts), which
// needs a script rather than a module. Each command's code still runs only when that command runs: esbuild
// keeps every dynamic import() lazy inside the file.
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { SDK_BUNDLES } from '../src/launch/sdk-bundle.js';

// Stale files from earlier builds would pile up: start from an empty directory.
rmSync('dist/bundle', { recursive: true, force: true });

const common: BuildOptions = {
  outdir: 'dist/bundle',
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // Native addons and optional native code stay in node_modules. So do the credential libraries only a cloud
  // repository with key-type=auto loads; the S3 and Azure Blob SDKs, which every command on those stores loads, get
  // bundles of their own (below), out of the file every process reads.
  external: [
    'lz4-napi',
    '@mongodb-js/zstd',
    '@node-rs/xxhash',
    'pg-native',
    '@azure/identity',
    'google-auth-library',
  ],
  logLevel: 'warning',
};

/** Bundle name of each SDK package (launch/sdk-bundle.ts). */
const sdkBundleOf = new Map<string, string>(Object.entries(SDK_BUNDLES).map(([name, pkg]) => [pkg, name]));

/**
 * In the CLI and worker bundles, an import of an SDK package becomes a call to launch/sdk-bundle.ts, which loads
 * that SDK's bundle with V8's code cache.
 */
const sdkFromBundle: Plugin = {
  name: 'sdk-from-bundle',
  setup(plugin) {
    const packages = [...sdkBundleOf.keys()].map((pkg) => pkg.replace(/[/.]/g, '\\$&')).join('|');
    plugin.onResolve({ filter: new RegExp(`^(${packages})$`) }, (args) => ({
      path: sdkBundleOf.get(args.path) as string,
      namespace: 'pgstash-sdk',
    }));
    plugin.onLoad({ filter: /.*/, namespace: 'pgstash-sdk' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(resolve('dist/src/launch/sdk-bundle.js'))}).loadSdkBundle(${JSON.stringify(args.path)});`,
      loader: 'js',
      resolveDir: process.cwd(),
    }));
  },
};

// Each SDK as one CommonJS file, its own dynamic imports inlined as lazy requires.
await build({
  ...common,
  entryPoints: {
    'sdk-s3': 'dist/src/storage/sdk/s3-sdk.js',
    'sdk-azure': 'dist/src/storage/sdk/azure-sdk.js',
  },
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  supported: { 'dynamic-import': false },
  // ES module code in an SDK that asks for its own URL (createRequire(import.meta.url)) gets the bundle's.
  define: { 'import.meta.url': '__pgstashBundleUrl' },
  banner: { js: "var __pgstashBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
});

await build({
  ...common,
  // bin/pgstash runs cli.cjs through launch.cjs.
  entryPoints: { cli: 'dist/src/cli.js', launch: 'dist/src/launch/code-cache.js' },
  plugins: [sdkFromBundle],
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  // import() of bundled code becomes a lazy require: the whole CLI is one file.
  supported: { 'dynamic-import': false },
  // Code that finds files next to itself (the worker scripts, package.json) gets the bundle's own URL.
  define: { 'import.meta.url': '__pgstashBundleUrl' },
  banner: { js: "var __pgstashBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
});

await build({
  ...common,
  // Worker thread entries keep their base names: the code that starts them finds them next to itself, both in
  // dist/src and in dist/bundle.
  entryPoints: {
    'backup-worker': 'dist/src/command/backup/backup-worker.js',
    'restore-worker': 'dist/src/command/restore/restore-worker.js',
    'verify-worker': 'dist/src/command/verify/verify-worker.js',
  },
  splitting: true,
  format: 'esm',
  plugins: [sdkFromBundle],
  // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __pgstashRequire } from 'node:module'; const require = __pgstashRequire(import.meta.url);",
  },
});
