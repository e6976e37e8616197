// Loads a cloud SDK from its own bundle next to the CLI's (dist/bundle/sdk-*.cjs), with V8's code cache.
//
// Why: PostgreSQL starts one archive-push or archive-get per WAL segment, and on an object store each of them loaded
// the SDK from node_modules: hundreds of files resolved, read and compiled. Measured on Node 20 (this machine, load
// and construct a client, medians of 4): @aws-sdk/client-s3 78-104 ms from node_modules, 47-54 ms from its bundle
// with the cache; @azure/storage-blob 160-200 ms against 48-60 ms. Node 22's compile cache (code-cache.ts
// enableModuleCompileCache) spared the compiling but not the resolving and reading. scripts/bundle.ts builds the
// bundles and points the CLI's and the workers' imports of these packages here; code run unbundled (dist/src, the
// tests' imports) loads them from node_modules as before.
import { isMainThread } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { cacheDirectory, loadCommonJs } from './code-cache.js';

/** The SDK bundles scripts/bundle.ts builds: the package each stands for, by bundle name. */
export const SDK_BUNDLES = {
  'sdk-s3': '@aws-sdk/client-s3',
  'sdk-azure': '@azure/storage-blob',
} as const;

export type SdkBundle = keyof typeof SDK_BUNDLES;

/**
 * The exports of bundle `name` (dist/bundle/<name>.cjs, next to the code calling this), compiled from the cache
 * in the user's private cache directory when one is valid. The main thread writes the cache when the process
 * exits; worker threads, which load the bundle after the main thread did, only read it.
 */
export function loadSdkBundle(name: SdkBundle): unknown {
  const file = fileURLToPath(new URL(`./${name}.cjs`, import.meta.url));
  const dir = cacheDirectory();
  return loadCommonJs(file, dir === undefined ? undefined : { dir, variant: name }, {
    writeCache: isMainThread,
  }).exports;
}
