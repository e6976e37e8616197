// The HTTPS agent of an object-store repository: kept-alive sockets, and the TLS trust of repoN-storage-* options.
import { readdirSync, readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';

import { fail, reasonOf } from '../common/errors.js';

/** The repoN-storage-* options of TLS trust (field names as in RepoOptions). */
export interface TlsTrustOptions {
  readonly storageVerifyTls?: boolean | undefined;
  readonly storageCaFile?: string | undefined;
  readonly storageCaPath?: string | undefined;
}

/** Sockets kept open to the service per process: enough for a backup's workers and their parts in flight. */
const MAX_SOCKETS = 64;

/**
 * CA certificates to trust instead of Node's bundled roots: repoN-storage-ca-file and the certificate files in
 * repoN-storage-ca-path (as pgBackRest, they replace the default trust).
 */
function trustedCas(options: TlsTrustOptions, repo: string): string[] | undefined {
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

/** One agent per repository: its sockets are reused across requests, its certificates parsed once. */
export function storageAgent(options: TlsTrustOptions, repo: string): Agent {
  const ca = trustedCas(options, repo);
  return new Agent({
    keepAlive: true,
    maxSockets: MAX_SOCKETS,
    rejectUnauthorized: options.storageVerifyTls ?? true,
    // One context for every connection: given `ca` alone, each new connection parses the certificates again.
    ...(ca === undefined ? {} : { secureContext: createSecureContext({ ca }) }),
  });
}
