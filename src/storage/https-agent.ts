// The HTTPS agent of an object-store repository: kept-alive sockets, and the TLS trust of repoN-storage-* options.
import { Agent } from 'node:https';
import { createSecureContext } from 'node:tls';

import { trustedCas, type TrustOptions } from './tls-trust.js';

/** The repoN-storage-* options of TLS trust (field names as in RepoOptions). */
export interface TlsTrustOptions extends TrustOptions {
  readonly storageVerifyTls?: boolean | undefined;
}

/** Sockets kept open to the service per process: enough for a backup's workers and their parts in flight. */
const MAX_SOCKETS = 64;

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
