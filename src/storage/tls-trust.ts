// The CA certificates an object-store repository trusts: repoN-storage-ca-file and repoN-storage-ca-path.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { fail, reasonOf } from '../common/errors.js';

/** The repoN options that choose the trust (field names as in RepoOptions). */
export interface TrustOptions {
  readonly storageCaFile?: string | undefined;
  readonly storageCaPath?: string | undefined;
}

/**
 * CA certificates to trust instead of Node's bundled roots: repoN-storage-ca-file and the certificate files in
 * repoN-storage-ca-path (as pgBackRest, they replace the default trust). `repo` (repoN) names the options in errors.
 */
export function trustedCas(options: TrustOptions, repo: string): string[] | undefined {
  if (options.storageCaFile === undefined && options.storageCaPath === undefined) return undefined;
  const cas: string[] = [];
  const read = (file: string, option: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      return fail('fileRead', `unable to read ${option} '${file}': ${reasonOf(error)}`);
    }
  };
  if (options.storageCaFile !== undefined) cas.push(read(options.storageCaFile, `${repo}-storage-ca-file`));
  if (options.storageCaPath !== undefined) {
    let names: string[];
    try {
      names = readdirSync(options.storageCaPath);
    } catch (error) {
      return fail(
        'pathMissing',
        `unable to list ${repo}-storage-ca-path '${options.storageCaPath}': ${reasonOf(error)}`,
      );
    }
    for (const name of names.sort()) {
      const file = join(options.storageCaPath, name);
      const text = read(file, `${repo}-storage-ca-path`);
      if (text.includes('-----BEGIN CERTIFICATE-----')) cas.push(text);
    }
  }
  return cas;
}
