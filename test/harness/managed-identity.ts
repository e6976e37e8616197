// A managed-identity token endpoint as Azure App Service runs one on the host (IDENTITY_ENDPOINT, IDENTITY_HEADER):
// it hands out access tokens that Azurite started with `oauth` accepts (Azurite checks their audience, issuer and
// times, not a signature), and records what it was asked.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ManagedIdentityEndpoint {
  /** The environment a process needs to find it: IDENTITY_ENDPOINT and IDENTITY_HEADER. */
  readonly env: Record<string, string>;
  /** The resource of each token request, in order ('refused' for a request without the right secret header). */
  readonly requests: string[];
  /** Answers every later request with this HTTP status and an error body (undefined: tokens again). */
  failWith(status: number | undefined): void;
  stop(): Promise<void>;
}

/** An unsigned JWT of the claims Azurite checks for a storage token. */
function storageToken(): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return [
    part({ typ: 'JWT', alg: 'none' }),
    part({
      aud: 'https://storage.azure.com',
      iss: 'https://sts.windows.net/00000000-0000-0000-0000-000000000000/',
      iat: now - 60,
      nbf: now - 60,
      exp: now + 3600,
      oid: '11111111-1111-1111-1111-111111111111',
      tid: '00000000-0000-0000-0000-000000000000',
    }),
    'unsigned',
  ].join('.');
}

export async function startManagedIdentityEndpoint(): Promise<ManagedIdentityEndpoint> {
  const secret = randomBytes(16).toString('hex');
  const requests: string[] = [];
  let failure: number | undefined;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://identity');
    if (req.headers['x-identity-header'] !== secret) {
      requests.push('refused');
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_request', error_description: 'no identity header' }));
      return;
    }
    const resource = url.searchParams.get('resource') ?? '';
    requests.push(resource);
    if (failure !== undefined) {
      res.writeHead(failure, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: 'unavailable', error_description: `identity endpoint answers ${failure}` }),
      );
      return;
    }
    const body = JSON.stringify({
      access_token: storageToken(),
      expires_on: String(Math.floor(Date.now() / 1000) + 3600),
      resource,
      token_type: 'Bearer',
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    env: { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, IDENTITY_HEADER: secret },
    requests,
    failWith(status) {
      failure = status;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
