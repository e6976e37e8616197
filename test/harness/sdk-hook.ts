// A preload (node --require) that reports at exit whether a cloud SDK was loaded: from its bundle
// (dist/bundle/sdk-*.cjs, launch/sdk-bundle.ts) or, run unbundled, from node_modules.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes the preload into `dir` and returns its path. At exit it prints `<label> modules: N` on stderr: N counts the
 * reads of `bundle` (the SDK's bundle file name) and the loaded modules whose path holds `modulePath`.
 */
export async function writeSdkHook(
  dir: string,
  sdk: { label: string; bundle: string; modulePath: string },
): Promise<string> {
  const hook = join(dir, `${sdk.label}-hook.cjs`);
  await writeFile(
    hook,
    `const fs = require('node:fs');
const read = fs.readFileSync;
let bundles = 0;
fs.readFileSync = function (path, ...rest) {
  if (String(path).endsWith(${JSON.stringify(`/${sdk.bundle}`)})) bundles++;
  return read.call(this, path, ...rest);
};
process.on('exit', () => {
  const modules = Object.keys(require.cache).filter((path) => path.includes(${JSON.stringify(sdk.modulePath)}));
  process.stderr.write(${JSON.stringify(`${sdk.label} modules: `)} + (bundles + modules.length) + '\\n');
});
`,
  );
  return hook;
}
