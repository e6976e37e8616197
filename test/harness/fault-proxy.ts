// A fault-injecting HTTPS proxy between pgstash and a real object store (S3, Azure Blob or GCS): counts requests by
// kind, and answers 500, 503 or SlowDown, resets the connection, stalls or truncates a body for the requests a test
// picks.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Agent, createServer, request, type Server } from 'node:https';
import { Server as NetServer, type Socket } from 'node:net';

/** What a request is, named after S3's requests (Azure's and GCS's classifiers map theirs onto the same names). */
export type RequestKind =
  | 'get'
  | 'list'
  | 'head'
  | 'put'
  | 'create-multipart'
  | 'upload-part'
  | 'complete-multipart'
  | 'abort-multipart'
  | 'delete'
  | 'delete-batch'
  | 'other';

/**
 * - error500, error503, slowDown: answered by the proxy in the store's error format (S3's and Azure's XML:
 *   InternalError, ServiceUnavailable, SlowDown / ServerBusy; GCS's JSON: backendError, rateLimitExceeded), the
 *   request body read first, nothing forwarded.
 * - forbidden: a permanent 403 (AccessDenied, AuthorizationFailure, forbidden), answered the same way.
 * - resetRequest: the connection is reset (RST) once part of the request body arrived (at once without a body).
 * - resetResponse: forwarded; the answer's headers and half its body are sent, then the connection is reset.
 * - truncate: forwarded; the headers (with the whole Content-Length) and half the body, then a clean close.
 *   Both reach the server first: what a retry then finds is the request's effect (an idempotent request again, a
 *   completed multipart upload, an object created ifAbsent). An empty answer announces one byte it never sends.
 * - stall: never answered (the request body is read); the client has to give up.
 * - delay: forwarded after `delayMs` (a slow service, not a failure).
 */
export type FaultType =
  | 'error500'
  | 'error503'
  | 'slowDown'
  | 'forbidden'
  | 'resetRequest'
  | 'resetResponse'
  | 'truncate'
  | 'stall'
  | 'delay';

/** The faults a request may meet and pass when tried again: each test of a request kind runs under every one. */
export const TRANSIENT_FAULTS: readonly FaultType[] = [
  'error500',
  'error503',
  'slowDown',
  'resetRequest',
  'resetResponse',
  'truncate',
  'stall',
];

export interface FaultRule {
  readonly fault: FaultType;
  /** Only requests of this kind (or kinds). */
  readonly kind?: string | readonly string[];
  readonly method?: string;
  /** Only requests whose path and query match. */
  readonly path?: RegExp;
  /** The first matching request faulted (1-based, default 1). */
  readonly nth?: number;
  /** How many matching requests from the nth on are faulted (default 1; Infinity: all). */
  readonly times?: number;
  /** For 'delay': how long (ms) the request waits before it is forwarded. */
  readonly delayMs?: number;
}

/** An injected rule: how many requests it matched and faulted so far. */
export interface ActiveFault {
  readonly rule: FaultRule;
  readonly matched: number;
  readonly faulted: number;
}

export interface ProxiedRequest {
  readonly kind: string;
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly range: string | undefined;
  /** The Content-Range of a request that sends part of an object (a GCS session's chunk). */
  readonly contentRange: string | undefined;
  /** The fault applied, if any. */
  readonly fault: FaultType | undefined;
}

export interface FaultProxyOptions {
  /** The real server: host, port and the CA that signed its certificate. */
  readonly target: { readonly host: string; readonly port: number; readonly ca: string | Buffer };
  /** The certificate and key the proxy presents to clients (the harness's, so the same CA file is trusted). */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** The store behind the proxy: how requests are classified and errors answered (default 's3', path-style). */
  readonly store?: ProxiedStore;
}

export type ProxiedStore = 's3' | 'azure' | 'gcs';

export interface FaultProxy {
  /** host:port of the proxy, as repoN-s3-endpoint takes it. */
  readonly endpoint: string;
  readonly port: number;
  /** Adds a rule; rules are checked in the order added, the first that takes a request faults it. */
  inject(rule: FaultRule): ActiveFault;
  /** Removes every rule. */
  clearFaults(): void;
  /** Every request since the last resetCounts, in arrival order. */
  readonly requests: readonly ProxiedRequest[];
  /** Requests per kind since the last resetCounts (kinds not seen are absent). */
  counts(): Record<string, number>;
  resetCounts(): void;
  stop(): Promise<void>;
}

/** The kind of an S3 request addressed path-style (`/<bucket>/<key>?<query>`). */
export function classifyS3(method: string, url: string): RequestKind {
  const parsed = new URL(url, 'https://proxy');
  const query = parsed.searchParams;
  const hasKey = parsed.pathname.split('/').filter((part) => part !== '').length > 1;
  switch (method) {
    case 'GET':
      if (query.has('uploads')) return 'other';
      return hasKey && !query.has('list-type') ? 'get' : 'list';
    case 'HEAD':
      return 'head';
    case 'PUT':
      return query.has('uploadId') ? 'upload-part' : 'put';
    case 'POST':
      if (query.has('uploads')) return 'create-multipart';
      if (query.has('uploadId')) return 'complete-multipart';
      return query.has('delete') ? 'delete-batch' : 'other';
    case 'DELETE':
      return query.has('uploadId') ? 'abort-multipart' : 'delete';
    default:
      return 'other';
  }
}

/** The kind of an Azure Blob request addressed path-style (`/<account>/<container>/<blob>?<query>`). */
export function classifyAzure(method: string, url: string): RequestKind {
  const parsed = new URL(url, 'https://proxy');
  const comp = parsed.searchParams.get('comp');
  switch (method) {
    case 'GET':
      return comp === 'list' ? 'list' : comp === null ? 'get' : 'other';
    case 'HEAD':
      return 'head';
    case 'PUT':
      if (comp === 'block') return 'upload-part';
      return comp === 'blocklist' ? 'complete-multipart' : comp === null ? 'put' : 'other';
    case 'POST':
      return comp === 'batch' ? 'delete-batch' : 'other';
    case 'DELETE':
      return 'delete';
    default:
      return 'other';
  }
}

/** The kind of a GCS JSON API request (`/storage/v1/b/<bucket>/o[/<name>]`, `/upload/storage/v1/...`). */
export function classifyGcs(method: string, url: string): RequestKind {
  const parsed = new URL(url, 'https://proxy');
  const query = parsed.searchParams;
  const upload = parsed.pathname.startsWith('/upload/');
  const object = /\/o\/[^/]/.test(parsed.pathname);
  switch (method) {
    case 'GET':
      if (!object) return 'list';
      return query.get('alt') === 'media' ? 'get' : 'head';
    case 'POST':
      if (!upload) return 'other';
      return query.get('uploadType') === 'resumable' ? 'create-multipart' : 'put';
    case 'PUT':
      // A chunk of a resumable session; the last one (its Content-Range names the size) completes it.
      return upload ? 'upload-part' : 'other';
    case 'DELETE':
      return upload ? 'abort-multipart' : 'delete';
    default:
      return 'other';
  }
}

const CLASSIFY: Record<ProxiedStore, (method: string, url: string) => RequestKind> = {
  s3: classifyS3,
  azure: classifyAzure,
  gcs: classifyGcs,
};

const ERROR_ANSWER: Record<
  'error500' | 'error503' | 'slowDown' | 'forbidden',
  { status: number; code: string; text: string }
> = {
  error500: {
    status: 500,
    code: 'InternalError',
    text: 'We encountered an internal error. Please try again.',
  },
  error503: { status: 503, code: 'ServiceUnavailable', text: 'Service is unable to handle request.' },
  slowDown: { status: 503, code: 'SlowDown', text: 'Please reduce your request rate.' },
  forbidden: { status: 403, code: 'AccessDenied', text: 'Access Denied' },
};

/** The codes Azure and GCS use for the same answers. */
const STORE_CODE: Record<'azure' | 'gcs', Record<keyof typeof ERROR_ANSWER, string>> = {
  azure: {
    error500: 'InternalError',
    error503: 'ServerBusy',
    slowDown: 'ServerBusy',
    forbidden: 'AuthorizationFailure',
  },
  gcs: {
    error500: 'backendError',
    error503: 'backendError',
    slowDown: 'rateLimitExceeded',
    forbidden: 'forbidden',
  },
};

/** The body and content type of an error answer in the store's format. */
function errorBody(
  store: ProxiedStore,
  fault: keyof typeof ERROR_ANSWER,
  url: string,
): { type: string; body: string } {
  const answer = ERROR_ANSWER[fault];
  if (store === 'gcs') {
    const reason = STORE_CODE.gcs[fault];
    // GCS answers throttling 429 and an overloaded backend 503.
    const status = fault === 'slowDown' ? 429 : answer.status;
    return {
      type: 'application/json',
      body: JSON.stringify({ error: { code: status, message: answer.text, errors: [{ reason }] } }),
    };
  }
  const code = store === 'azure' ? STORE_CODE.azure[fault] : answer.code;
  return {
    type: 'application/xml',
    body:
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
      `<Message>${answer.text}</Message><Resource>${url.split('?')[0] ?? ''}</Resource>` +
      '<RequestId>fault-proxy</RequestId></Error>',
  };
}

/** The HTTP status of an error answer (GCS throttles with 429 where S3 and Azure say 503). */
function errorStatus(store: ProxiedStore, fault: keyof typeof ERROR_ANSWER): number {
  return store === 'gcs' && fault === 'slowDown' ? 429 : ERROR_ANSWER[fault].status;
}

/** Headers that belong to one connection, not to the request or answer. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())));
}

/** Resets (RST) the TCP connection under a TLS socket: no close_notify, no FIN, as a dropped connection. */
function resetConnection(socket: Socket): void {
  const raw = (socket as Socket & { _parent?: Socket })._parent;
  try {
    (raw ?? socket).resetAndDestroy();
  } catch {
    // Not a TCP handle (a platform without it): an abrupt close without close_notify comes close.
  }
  socket.destroy();
}

interface RuleState {
  rule: FaultRule;
  matched: number;
  faulted: number;
}

/** Starts the proxy on a free 127.0.0.1 port (TLS); requests keep their Host header, so signatures stay valid. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const store = options.store ?? 's3';
  const classify = CLASSIFY[store];
  /** The server's origin in headers it answers (a GCS upload session's Location), rewritten to the proxy's. */
  const targetOrigin = `https://${options.target.host}:${options.target.port}`;
  let proxyOrigin = '';
  const upstream = new Agent({ keepAlive: true, ca: options.target.ca });
  const rules: RuleState[] = [];
  let requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();

  function pick(kind: string, method: string, url: string): FaultRule | undefined {
    for (const state of rules) {
      const { rule } = state;
      if (
        rule.kind !== undefined &&
        !(typeof rule.kind === 'string' ? [rule.kind] : rule.kind).includes(kind)
      )
        continue;
      if (rule.method !== undefined && rule.method !== method) continue;
      if (rule.path !== undefined && !rule.path.test(url)) continue;
      state.matched++;
      const first = rule.nth ?? 1;
      if (state.matched >= first && state.matched < first + (rule.times ?? 1)) {
        state.faulted++;
        return rule;
      }
    }
    return undefined;
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const kind = classify(method, url);
    const rule = pick(kind, method, url);
    const fault = rule?.fault;
    // Azure's SDK sends its range as x-ms-range.
    const range = req.headers.range ?? (req.headers['x-ms-range'] as string | undefined);
    const contentRange = req.headers['content-range'];
    requests.push({ kind, method, url, range, contentRange, fault });
    switch (fault) {
      case 'error500':
      case 'error503':
      case 'slowDown':
      case 'forbidden': {
        req.resume();
        req.on('end', () => {
          const answer = errorBody(store, fault, url);
          const body = method === 'HEAD' ? '' : answer.body;
          res.writeHead(errorStatus(store, fault), {
            'content-type': answer.type,
            'content-length': Buffer.byteLength(body),
          });
          res.end(body);
        });
        return;
      }
      case 'resetRequest': {
        const reset = (): void => resetConnection(req.socket);
        if (req.headers['content-length'] === undefined || req.headers['content-length'] === '0') reset();
        else req.once('data', reset);
        return;
      }
      case 'stall':
        req.resume();
        return;
      case 'delay':
        req.pause();
        setTimeout(() => forward(req, res, undefined), rule?.delayMs ?? 1000);
        return;
      default:
        forward(req, res, fault);
    }
  }

  function forward(req: IncomingMessage, res: ServerResponse, fault: FaultType | undefined): void {
    const out = request(
      {
        host: options.target.host,
        port: options.target.port,
        method: req.method,
        path: req.url,
        headers: forwardable(req.headers),
        agent: upstream,
      },
      (answer) => {
        const status = answer.statusCode ?? 502;
        const { location } = answer.headers;
        if (location?.startsWith(targetOrigin) === true)
          answer.headers.location = proxyOrigin + location.slice(targetOrigin.length);
        if (fault === undefined) {
          res.writeHead(status, forwardable(answer.headers));
          answer.pipe(res);
          return;
        }
        // resetResponse, truncate: the whole answer first, then half of it.
        const pieces: Buffer[] = [];
        answer.on('data', (piece: Buffer) => pieces.push(piece));
        answer.on('end', () => {
          const body = Buffer.concat(pieces);
          // An empty answer (a PUT's) announces a byte it never sends, so that it is cut short too.
          res.writeHead(status, {
            ...forwardable(answer.headers),
            'content-length': Math.max(1, body.length),
          });
          res.write(body.subarray(0, Math.floor(body.length / 2)), () => {
            if (fault === 'truncate') res.socket?.end();
            else if (res.socket !== null) resetConnection(res.socket);
          });
        });
      },
    );
    out.on('error', (error) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`fault proxy: ${error.message}`);
      } else res.destroy();
    });
    req.pipe(out);
  }

  const server: Server = createServer(
    { cert: options.cert, key: options.key, keepAliveTimeout: 30_000 },
    handle,
  );
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // A reset the client made (its timeout) is not the proxy's failure.
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy: no port');
  const { port } = address;
  proxyOrigin = `https://127.0.0.1:${port}`;

  return {
    endpoint: `127.0.0.1:${port}`,
    port,
    inject(rule) {
      const state: RuleState = { rule, matched: 0, faulted: 0 };
      rules.push(state);
      return state;
    },
    clearFaults() {
      rules.length = 0;
    },
    get requests() {
      return requests;
    },
    counts() {
      const counts: Record<string, number> = {};
      for (const { kind } of requests) counts[kind] = (counts[kind] ?? 0) + 1;
      return counts;
    },
    resetCounts() {
      requests = [];
    },
    async stop() {
      // Every socket destroyed here, then net.Server's close: http's close() first looks through its connections
      // for idle ones, and one whose socket a fault destroyed mid-request is half torn down there (Node 20 and 22:
      // "Cannot read properties of null (reading '_httpMessage')" in closeIdleConnections, in either order).
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
      upstream.destroy();
    },
  };
}
