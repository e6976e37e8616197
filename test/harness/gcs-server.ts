// A real GCS server for tests (fake-gcs-server, in memory, over http or https), with a bucket per test file.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';

import type { GcsRepoOptions } from '../../src/storage/gcs-client.js';
import { freePort } from './ports.js';
import { testBinDir } from './s3-server.js';
import { makeCertificate, spawnServer, type ServerProcess } from './test-server.js';
import { createTempDir, removeTempDir } from './tmp.js';

const BINARY = 'fake-gcs-server';

/**
 * Whether fake-gcs-server is installed. Under CI (CI=true) a missing one is an error, so the suites that need it
 * fail instead of being skipped; elsewhere they are skipped (run .ci/test-servers.sh to install).
 */
export function gcsServerAvailable(): boolean {
  const binary = join(testBinDir(), BINARY);
  if (existsSync(binary)) return true;
  if (process.env['CI'] === 'true') {
    throw new Error(
      `the fake-gcs-server test server is not installed at '${binary}': run .ci/test-servers.sh`,
    );
  }
  return false;
}

export interface GcsTestServer {
  /** http://127.0.0.1:port (https:// with `tls`), as repoN-gcs-endpoint takes it. */
  readonly endpoint: string;
  /** With `tls`: the server's self-signed certificate, to give as repoN-storage-ca-file. */
  readonly caFile: string | undefined;
  /** With `tls`: the certificate's private key (for a fault proxy standing in front: proxyOptionsFor). */
  readonly keyFile: string | undefined;
  readonly port: number;
  /** Creates a bucket, named after `label` and unique on this server. */
  createBucket(label: string): Promise<string>;
  /** The names of every object in `bucket` (below `prefix`), looking behind the driver. */
  objectNames(bucket: string, prefix?: string): Promise<string[]>;
  /** The repoN options of a repository in `bucket` under '/repo' (token credentials: the server takes any). */
  repoOptions(bucket: string, overrides?: Partial<GcsRepoOptions>): GcsRepoOptions & { type: 'gcs' };
  stop(): Promise<void>;
}

let bucketCount = 0;

/** A service account key file (the server does not check signatures; the driver signs with it all the same). */
export async function writeServiceAccountKey(file: string): Promise<void> {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  await writeFile(
    file,
    JSON.stringify({
      type: 'service_account',
      project_id: 'pgstash-test',
      private_key_id: 'test',
      private_key: privateKey,
      client_email: 'pgstash@pgstash-test.iam.gserviceaccount.com',
      token_uri: 'https://oauth2.googleapis.com/token',
    }),
    { mode: 0o600 },
  );
}

/**
 * Starts fake-gcs-server on a free 127.0.0.1 port, in memory (its filesystem backend fails when an object's name
 * is also the prefix of others); resolves once it answers.
 */
export async function startGcsServer(options: { tls?: boolean } = {}): Promise<GcsTestServer> {
  const dir = await createTempDir({ owner: 'root', mode: 0o711, label: 'gcs' });
  const tls = options.tls ?? false;
  let serverProcess: ServerProcess | undefined;
  try {
    const port = await freePort();
    const endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    const certificate = tls ? await makeCertificate(dir) : undefined;
    const ca = certificate === undefined ? undefined : await readFile(certificate.cert, 'utf8');
    const certificateArgs =
      certificate === undefined
        ? []
        : ['-cert-location', certificate.cert, '-private-key-location', certificate.key];
    serverProcess = await spawnServer(
      'fake-gcs-server',
      join(testBinDir(), BINARY),
      [
        ...['-scheme', tls ? 'https' : 'http', '-host', '127.0.0.1', '-port', String(port)],
        ...['-backend', 'memory', '-external-url', endpoint, ...certificateArgs],
      ],
      { dir, answers: () => answers(endpoint, ca), timeoutMs: 20_000 },
    );
    const started = serverProcess;
    /** A request of the test itself (trusting the certificate), answered as status and body. */
    const call = (method: string, path: string, body?: string) =>
      send(`${endpoint}${path}`, ca, method, body);
    return {
      endpoint,
      port,
      caFile: certificate?.cert,
      keyFile: certificate?.key,
      async createBucket(label) {
        const name = `${label
          .toLowerCase()
          .replace(/[^a-z0-9-]/g, '-')
          .slice(0, 40)}-${process.pid}-${++bucketCount}`;
        const response = await call('POST', '/storage/v1/b?project=test', JSON.stringify({ name }));
        if (response.status !== 200) throw new Error(`bucket ${name} not created: HTTP ${response.status}`);
        return name;
      },
      async objectNames(bucket, prefix = '') {
        const names: string[] = [];
        let token: string | undefined;
        do {
          const query = new URLSearchParams({ prefix, ...(token === undefined ? {} : { pageToken: token }) });
          const response = await call('GET', `/storage/v1/b/${bucket}/o?${query.toString()}`);
          if (response.status !== 200) throw new Error(`list of ${bucket} failed: HTTP ${response.status}`);
          const page = JSON.parse(response.body.toString('utf8')) as {
            items?: { name: string }[];
            nextPageToken?: string;
          };
          names.push(...(page.items ?? []).map((item) => item.name));
          token = page.nextPageToken === '' ? undefined : page.nextPageToken;
        } while (token !== undefined);
        return names.sort();
      },
      repoOptions(bucket, overrides = {}) {
        return {
          type: 'gcs',
          index: 1,
          path: '/repo',
          ioTimeout: 20,
          gcsBucket: bucket,
          gcsEndpoint: endpoint,
          gcsKeyType: 'token',
          gcsKey: 'pgstash-test-token',
          storagePort: 443,
          storageVerifyTls: true,
          ...(certificate === undefined ? {} : { storageCaFile: certificate.cert }),
          storageUploadChunkSize: 5 * 1024 * 1024,
          ...overrides,
        };
      },
      async stop() {
        await started.stop();
        await removeTempDir(dir);
      },
    };
  } catch (error) {
    await serverProcess?.stop();
    await removeTempDir(dir);
    throw error;
  }
}

/** One request to the server (trusting `ca` for https), its body read whole. */
function send(
  url: string,
  ca: string | undefined,
  method: string,
  body?: string,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const make = url.startsWith('https:') ? httpsRequest : httpRequest;
    const outgoing = make(
      url,
      {
        method,
        headers: { 'content-type': 'application/json' },
        timeout: 2000,
        ...(ca === undefined ? {} : { ca }),
      },
      (response) => {
        const parts: Buffer[] = [];
        response.on('data', (part: Buffer) => parts.push(part));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(parts) }));
        response.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error('timeout')));
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** Whether the server answers at all. */
function answers(endpoint: string, ca: string | undefined): Promise<boolean> {
  return send(`${endpoint}/storage/v1/b`, ca, 'GET').then(
    (response) => response.status < 500,
    () => false,
  );
}
