// The GCS client of a repository: endpoint, TLS trust, credentials and one JSON API request, from repoN-gcs-*.
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

import { fail, reasonOf } from '../common/errors.js';
import { selfSignedAuthorization, type ServiceAccountKey } from './gcs-jwt.js';
import { storageAgent } from './https-agent.js';

/** The repoN options a GCS repository reads (field names as in RepoOptions). */
export interface GcsRepoOptions {
  readonly index?: number;
  readonly path: string;
  readonly ioTimeout?: number | undefined;
  readonly gcsBucket?: string | undefined;
  readonly gcsEndpoint?: string | undefined;
  readonly gcsKeyType?: 'service' | 'token' | 'auto' | undefined;
  readonly gcsKey?: string | undefined;
  readonly storagePort?: number | undefined;
  readonly storageVerifyTls?: boolean | undefined;
  readonly storageCaFile?: string | undefined;
  readonly storageCaPath?: string | undefined;
  readonly storageUploadChunkSize?: number | undefined;
}

/** GCS wants every chunk of a resumable upload but the last to be a multiple of 256 KiB. */
export const GCS_CHUNK_QUANTUM = 256 * 1024;
/** Sockets kept open to the service per process: enough for a backup's workers. */
const MAX_SOCKETS = 64;
/** Read and write access to objects: what a repository needs, and no more. */
const SCOPE = 'https://www.googleapis.com/auth/devstorage.read_write';

export interface GcsSettings {
  readonly repo: string;
  readonly bucket: string;
  /** Object name prefix of the repository inside the bucket: repoN-path without its leading '/', '' for the root. */
  readonly prefix: string;
  /** http(s)://host[:port] of the service, as a URL's origin (no default port). */
  readonly endpoint: string;
  readonly ioTimeoutMs: number;
  /** Chunk of a resumable upload: repoN-storage-upload-chunk-size, rounded down to GCS_CHUNK_QUANTUM. */
  readonly chunkSize: number;
  /** Objects per list request (the service's maximum, 1,000; tests make it small to see pagination). */
  readonly listPageSize: number;
}

/** An option the table defaults or requires for repo-type=gcs; missing only if the caller bypassed the table. */
function required<T>(value: T | undefined, option: string): T {
  if (value === undefined) fail('optionRequired', `${option} option required`);
  return value;
}

/** Reads and checks the options; fails with the option's name when one is missing or invalid. */
export function gcsSettings(options: GcsRepoOptions): GcsSettings {
  const repo = `repo${options.index ?? 1}`;
  const bucket = required(options.gcsBucket, `${repo}-gcs-bucket`);
  const endpoint = endpointUrl(required(options.gcsEndpoint, `${repo}-gcs-endpoint`), options, repo);
  const chunk = required(options.storageUploadChunkSize, `${repo}-storage-upload-chunk-size`);
  return {
    repo,
    bucket,
    prefix: options.path.replace(/^\/+|\/+$/g, ''),
    endpoint,
    ioTimeoutMs: required(options.ioTimeout, 'io-timeout') * 1000,
    chunkSize: Math.max(GCS_CHUNK_QUANTUM, chunk - (chunk % GCS_CHUNK_QUANTUM)),
    listPageSize: 1000,
  };
}

/** host[:port] (HTTPS, repo-storage-port when no port is given) or an http(s) URL without a path. */
function endpointUrl(value: string, options: GcsRepoOptions, repo: string): string {
  const invalid = (): never =>
    fail('optionInvalidValue', `'${value}' is not valid for '${repo}-gcs-endpoint' option`, {
      hint: 'give a host name (and :port), or a URL such as https://host:port, without a path',
    });
  if (/^https?:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return invalid();
    }
    if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.username !== '') invalid();
    return url.origin;
  }
  if (!/^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$/.test(value)) invalid();
  const hasPort = /:[0-9]+$/.test(value) && !value.endsWith(']');
  const url = hasPort
    ? `https://${value}`
    : `https://${value}:${required(options.storagePort, `${repo}-storage-port`)}`;
  // As URL writes it (https://host, without :443): the origin an upload session URL is compared with.
  return new URL(url).origin;
}

/** Adds the Authorization header of a request. */
type Authorizer = () => Promise<Record<string, string>>;

/**
 * The credentials of repoN-gcs-key-type. token: the key is the bearer token itself. service: a service account
 * key file, read and checked here (a bad file fails before any request), signing its own short-lived JWTs
 * (gcs-jwt.ts: no token exchange, no library). auto: Google's application default credentials
 * (google-auth-library, loaded only then; a key file it finds signs its own JWTs likewise).
 */
function authorizer(options: GcsRepoOptions, repo: string): Authorizer {
  const type = options.gcsKeyType ?? 'service';
  if (type === 'token') {
    const header = { Authorization: `Bearer ${required(options.gcsKey, `${repo}-gcs-key`)}` };
    return () => Promise.resolve(header);
  }
  if (type === 'service') {
    const sign = selfSignedAuthorization(
      serviceKey(required(options.gcsKey, `${repo}-gcs-key`), repo),
      SCOPE,
    );
    return () => Promise.resolve(sign());
  }
  let auth: Promise<{ getRequestHeaders(): Promise<unknown> }> | undefined;
  return async () => {
    try {
      auth ??= import('google-auth-library').then(({ GoogleAuth }) => {
        const google = new GoogleAuth({ scopes: [SCOPE] });
        google.useJWTAccessWithScope = true;
        return google;
      });
      return (await (await auth).getRequestHeaders()) as Record<string, string>;
    } catch (error) {
      auth = undefined;
      return fail('access', `unable to get GCS credentials for ${repo} (auto): ${reasonOf(error)}`, {
        hint: 'auto takes the application default credentials: set GOOGLE_APPLICATION_CREDENTIALS, or run on GCE/GKE',
        cause: error,
      });
    }
  };
}

/** The parts of a service account key file that sign requests; fails naming the file when it is not one. */
function serviceKey(file: string, repo: string): ServiceAccountKey {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return fail('fileRead', `unable to read ${repo}-gcs-key '${file}': ${reasonOf(error)}`, {
      hint: `${repo}-gcs-key is the path of a service account JSON key file (${repo}-gcs-key-type=service)`,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const email = record['client_email'];
  const privateKey = record['private_key'];
  if (
    record['type'] !== 'service_account' ||
    typeof email !== 'string' ||
    typeof privateKey !== 'string' ||
    !privateKey.includes('PRIVATE KEY')
  ) {
    fail('optionInvalidValue', `${repo}-gcs-key '${file}' is not a service account JSON key file`, {
      hint: 'create a key for the service account (IAM > Service accounts > Keys > JSON) and give its path',
    });
  }
  try {
    createPrivateKey(privateKey);
  } catch (error) {
    fail('optionInvalidValue', `${repo}-gcs-key '${file}' holds no usable private key: ${reasonOf(error)}`);
  }
  const keyId = record['private_key_id'];
  return { email, privateKey, keyId: typeof keyId === 'string' ? keyId : undefined };
}

/** One JSON API request. `url` is a path on the endpoint ('/storage/v1/...') or a whole URL (an upload session). */
export interface GcsRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string;
  /** Statuses that are answers, not errors (2xx always are). */
  readonly accept?: readonly number[];
  /** Return the response body as a stream (a download) instead of reading it. */
  readonly stream?: boolean;
  readonly signal?: AbortSignal | undefined;
}

export interface GcsResponse {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  /** The body, read (when not `stream`). */
  readonly body: Buffer;
  /** The body still to read (with `stream`). */
  readonly stream: IncomingMessage | undefined;
}

/** A status the service answered that is an error; `reason` is the JSON error's first reason when it gave one. */
export class GcsServiceError extends Error {
  readonly status: number;
  readonly reason: string | undefined;

  constructor(status: number, reason: string | undefined, message: string) {
    super(message);
    this.name = 'GcsServiceError';
    this.status = status;
    this.reason = reason;
  }
}

/** The connection to the service: one agent (keep-alive, the repository's trust) and the credentials. */
export class GcsClient {
  readonly endpoint: string;
  readonly #agent: HttpAgent | HttpsAgent;
  readonly #authorize: Authorizer;
  readonly #timeoutMs: number;

  constructor(options: GcsRepoOptions, settings: GcsSettings) {
    this.endpoint = settings.endpoint;
    this.#timeoutMs = settings.ioTimeoutMs;
    this.#authorize = authorizer(options, settings.repo);
    if (settings.endpoint.startsWith('http:')) {
      this.#agent = new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS });
    } else {
      this.#agent = storageAgent(options, settings.repo);
    }
  }

  /**
   * Sends one request (no retries: the driver makes them). Resolves with an accepted answer; rejects with a
   * GcsServiceError for any other status, or with Node's network error. A socket idle for io-timeout fails with
   * ETIMEDOUT, also while a streamed body is being read.
   */
  async send(request: GcsRequest): Promise<GcsResponse> {
    const auth = await this.#authorize();
    const url = new URL(request.url.startsWith('/') ? `${this.endpoint}${request.url}` : request.url);
    if (url.origin !== this.endpoint) {
      // An upload session on another host (the service chooses it): never send the credentials elsewhere.
      fail('service', `the GCS service sent an upload URL on another host: '${url.origin}'`);
    }
    // A Buffer goes as it is (Buffer.from would copy a whole chunk per attempt).
    const body = typeof request.body === 'string' ? Buffer.from(request.body) : request.body;
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const outgoing = send(
        url,
        {
          method: request.method,
          agent: this.#agent,
          headers: {
            ...auth,
            ...request.headers,
            'content-length': String(body?.length ?? 0),
          },
          ...(request.signal === undefined ? {} : { signal: request.signal }),
        },
        resolve,
      );
      outgoing.setTimeout(this.#timeoutMs, () =>
        outgoing.destroy(
          Object.assign(new Error(`no answer in ${this.#timeoutMs} ms`), { code: 'ETIMEDOUT' }),
        ),
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });
    const status = response.statusCode ?? 0;
    const accepted = (status >= 200 && status < 300) || (request.accept ?? []).includes(status);
    if (accepted && request.stream === true) {
      response.setTimeout(this.#timeoutMs, () =>
        response.destroy(Object.assign(new Error(`no data in ${this.#timeoutMs} ms`), { code: 'ETIMEDOUT' })),
      );
      return { status, headers: response.headers, body: Buffer.alloc(0), stream: response };
    }
    const parts: Buffer[] = [];
    for await (const part of response) parts.push(part as Buffer);
    const text = Buffer.concat(parts);
    if (accepted) return { status, headers: response.headers, body: text, stream: undefined };
    throw serviceError(status, text);
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#agent.destroy();
  }
}

/** The JSON error body ({"error": {"code", "message", "errors": [{"reason"}]}}) as a GcsServiceError. */
function serviceError(status: number, body: Buffer): GcsServiceError {
  let reason: string | undefined;
  let message = '';
  try {
    const parsed = JSON.parse(body.toString('utf8')) as {
      error?: { message?: string; errors?: { reason?: string }[] };
    };
    reason = parsed.error?.errors?.[0]?.reason;
    message = parsed.error?.message ?? '';
  } catch {
    message = body.toString('utf8').split('\n')[0]?.slice(0, 200) ?? '';
  }
  return new GcsServiceError(status, reason, message);
}
