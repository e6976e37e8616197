// Real S3 servers for tests (versitygw, SeaweedFS): TLS with a certificate made here, fresh data, a bucket per file.
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { join } from 'node:path';

import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

import type { S3RepoOptions } from '../../src/storage/s3-client.js';
import { makeCertificate, spawnServer, type ServerProcess } from './test-server.js';
import { freePort } from './ports.js';
import { createTempDir, removeTempDir } from './tmp.js';

export type S3ServerKind = 'versitygw' | 'seaweedfs';

/** The binary of each server, as .ci/test-servers.sh installs it. */
const BINARY: Record<S3ServerKind, string> = { versitygw: 'versitygw', seaweedfs: 'weed' };

/** Where .ci/test-servers.sh puts the binaries (PGSTASH_TEST_BIN overrides, as .ci/run sets it). */
export function testBinDir(): string {
  return process.env['PGSTASH_TEST_BIN'] ?? '/var/cache/pgstash-go/bin';
}

/**
 * Whether the server's binary is installed. Under CI (CI=true) a missing one is an error, so the suites that
 * need it fail instead of being skipped; elsewhere they are skipped (run .ci/test-servers.sh to install).
 */
export function s3ServerAvailable(kind: S3ServerKind): boolean {
  const binary = join(testBinDir(), BINARY[kind]);
  if (existsSync(binary)) return true;
  if (process.env['CI'] === 'true') {
    throw new Error(`the ${kind} test server is not installed at '${binary}': run .ci/test-servers.sh`);
  }
  return false;
}

export interface S3TestServer {
  readonly kind: S3ServerKind;
  /** host:port, as repoN-s3-endpoint takes it. */
  readonly endpoint: string;
  readonly port: number;
  /** The CA (the self-signed certificate itself) to give as repoN-storage-ca-file. */
  readonly caFile: string;
  /** The certificate's private key (for a proxy in front of the server presenting the same certificate). */
  readonly keyFile: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region: string;
  /** A client of the test itself (creating buckets, looking behind the driver). */
  readonly client: S3Client;
  /** Creates a bucket, named after `label` and unique on this server. */
  createBucket(label: string): Promise<string>;
  /** The repoN options of a repository in `bucket` under `path` (default '/repo'). */
  repoOptions(bucket: string, overrides?: Partial<S3RepoOptions>): S3RepoOptions & { type: 's3' };
  stop(): Promise<void>;
}

const ACCESS_KEY = 'pgstashtestkey';
const SECRET_KEY = 'pgstash-test-secret-0123456789';
const REGION = 'us-east-1';
let bucketCount = 0;

export interface S3ServerOptions {
  /**
   * versitygw only: write its S3 access log (one line per request, with the bucket and the operation, e.g.
   * `s3_PutObject`) to this file, and keep connections alive as AWS does (the benchmark counts requests and times
   * both tools on it).
   */
  readonly accessLog?: string;
}

/** Starts a server on a free 127.0.0.1 port with TLS and a fresh data directory; resolves once it answers. */
export async function startS3Server(
  kind: S3ServerKind,
  options: S3ServerOptions = {},
): Promise<S3TestServer> {
  // 0711: the postgres user (archive_command, restore_command) reads the certificate, as repoN-storage-ca-file.
  const dir = await createTempDir({ owner: 'root', mode: 0o711, label: `s3-${kind}` });
  let serverProcess: ServerProcess | undefined;
  try {
    const { cert, key } = await makeCertificate(dir);
    const port = await freePort();
    const data = join(dir, 'data');
    await mkdir(data);
    const { args, env } = await commandLine(kind, { dir, data, port, cert, key }, options);
    const ca = await readFile(cert, 'utf8');
    serverProcess = await spawnServer(kind, join(testBinDir(), BINARY[kind]), args, {
      dir,
      env: { ...process.env, ...env },
      answers: () => answers(port, ca),
      timeoutMs: kind === 'seaweedfs' ? 60_000 : 20_000,
    });
    const started = serverProcess;
    const endpoint = `127.0.0.1:${port}`;
    const client = new S3Client({
      region: REGION,
      endpoint: `https://${endpoint}`,
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
      requestHandler: { httpsAgent: new Agent({ ca, keepAlive: true }) },
    });
    const server: S3TestServer = {
      kind,
      endpoint,
      port,
      caFile: cert,
      keyFile: key,
      accessKey: ACCESS_KEY,
      secretKey: SECRET_KEY,
      region: REGION,
      client,
      async createBucket(label) {
        const name = `${label
          .toLowerCase()
          .replace(/[^a-z0-9-]/g, '-')
          .slice(0, 40)}-${process.pid}-${++bucketCount}`;
        await client.send(new CreateBucketCommand({ Bucket: name }));
        return name;
      },
      repoOptions(bucket, overrides = {}) {
        return {
          type: 's3',
          index: 1,
          path: '/repo',
          ioTimeout: 20,
          s3Bucket: bucket,
          s3Endpoint: endpoint,
          s3Region: REGION,
          s3UriStyle: 'path',
          s3KeyType: 'shared',
          s3Key: ACCESS_KEY,
          s3KeySecret: SECRET_KEY,
          storagePort: 443,
          storageVerifyTls: true,
          storageCaFile: cert,
          storageUploadChunkSize: 5 * 1024 * 1024,
          ...overrides,
        };
      },
      async stop() {
        client.destroy();
        await started.stop();
        await removeTempDir(dir);
      },
    };
    return server;
  } catch (error) {
    await serverProcess?.stop();
    await removeTempDir(dir);
    throw error;
  }
}

async function commandLine(
  kind: S3ServerKind,
  where: { dir: string; data: string; port: number; cert: string; key: string },
  options: S3ServerOptions,
): Promise<{ args: string[]; env: Record<string, string> }> {
  if (kind === 'versitygw') {
    return {
      args: [
        ...(options.accessLog === undefined
          ? []
          : ['--access-log', options.accessLog, '--keep-alive', '--quiet']),
        '--port',
        `127.0.0.1:${where.port}`,
        '--access',
        ACCESS_KEY,
        '--secret',
        SECRET_KEY,
        '--region',
        REGION,
        '--cert',
        where.cert,
        '--key',
        where.key,
        'posix',
        where.data,
      ],
      env: {},
    };
  }
  // SeaweedFS: master, volume, filer and S3 gateway in one process; identities from a JSON file.
  const config = join(where.dir, 's3.json');
  await writeFile(
    config,
    JSON.stringify({
      identities: [
        {
          name: 'pgstash',
          credentials: [{ accessKey: ACCESS_KEY, secretKey: SECRET_KEY }],
          actions: ['Admin', 'Read', 'List', 'Tagging', 'Write'],
        },
      ],
    }),
  );
  // Every port weed mini would open, free ones: its defaults (and s3.port + 10000 for gRPC) collide otherwise.
  const ports = [];
  for (let i = 0; i < 9; i++) ports.push(await freePort());
  const [master, volume, filer, masterGrpc, volumeGrpc, filerGrpc, s3Grpc, admin, adminGrpc] = ports;
  return {
    args: [
      'mini',
      `-dir=${where.data}`,
      '-ip=127.0.0.1',
      '-ip.bind=127.0.0.1',
      `-master.port=${master}`,
      `-master.port.grpc=${masterGrpc}`,
      `-volume.port=${volume}`,
      `-volume.port.grpc=${volumeGrpc}`,
      `-filer.port=${filer}`,
      `-filer.port.grpc=${filerGrpc}`,
      `-s3.port=${where.port}`,
      `-s3.port.grpc=${s3Grpc}`,
      '-s3.port.iceberg=0',
      '-s3.port.lance=0',
      `-s3.config=${config}`,
      `-s3.cert.file=${where.cert}`,
      `-s3.key.file=${where.key}`,
      '-webdav=false',
      '-admin.ui=false',
      `-admin.port=${admin}`,
      `-admin.port.grpc=${adminGrpc}`,
      '-admin.port.legacy=0',
      '-master.telemetry=false',
    ],
    // weed puts its logs and its gRPC unix sockets in TMPDIR: in the server's own directory, they go with it.
    env: { TMPDIR: where.dir },
  };
}

/**
 * Whether the server answers HTTPS at all (a 403 is an answer). versitygw refuses a request without
 * `x-amz-content-sha256` before it reads it, so the probe sends one.
 */
function answers(port: number, ca: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const probe = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        method: 'GET',
        ca,
        headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
        timeout: 2000,
      },
      (response) => {
        response.resume();
        resolve(response.statusCode !== undefined && response.statusCode < 500);
      },
    );
    probe.on('error', () => resolve(false));
    probe.on('timeout', () => probe.destroy());
    probe.end();
  });
}

/** Every key under `prefix` in `bucket`, page by page. */
export async function s3KeysUnder(server: S3TestServer, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await server.client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const object of page.Contents ?? []) keys.push(object.Key ?? '');
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys;
}

/**
 * The repoN-* config lines of a repository under /pgstash in `bucket` on `server`, reached at `endpoint` (default
 * the server itself; a fault proxy in front of it presents the same certificate).
 */
export function s3RepoLines(
  server: S3TestServer,
  bucket: string,
  options: { repo?: number; endpoint?: string } = {},
): Record<string, string> {
  const repo = `repo${options.repo ?? 1}`;
  return {
    [`${repo}-type`]: 's3',
    [`${repo}-path`]: '/pgstash',
    [`${repo}-s3-bucket`]: bucket,
    [`${repo}-s3-endpoint`]: options.endpoint ?? server.endpoint,
    // An endpoint given without its port (a host name: pgBackRest 2.45 matches the certificate's DNS names, not its
    // IP address) takes the server's port from repoN-storage-port.
    ...(options.endpoint !== undefined && !/:\d+$/.test(options.endpoint)
      ? { [`${repo}-storage-port`]: String(server.port) }
      : {}),
    [`${repo}-s3-region`]: server.region,
    [`${repo}-s3-uri-style`]: 'path',
    [`${repo}-s3-key`]: server.accessKey,
    [`${repo}-s3-key-secret`]: server.secretKey,
    [`${repo}-storage-ca-file`]: server.caFile,
  };
}

/**
 * The target and certificate a fault proxy (startFaultProxy) needs to stand in front of `server`: any TLS test server
 * of the harness (S3, Azurite, fake-gcs-server started with `tls`), whose self-signed certificate the proxy presents.
 */
export async function proxyOptionsFor(server: {
  readonly port: number;
  readonly caFile: string | undefined;
  readonly keyFile: string | undefined;
}): Promise<{ target: { host: string; port: number; ca: Buffer }; cert: Buffer; key: Buffer }> {
  if (server.caFile === undefined || server.keyFile === undefined)
    throw new Error('a fault proxy stands in front of a TLS server only (start it with tls)');
  const cert = await readFile(server.caFile);
  return {
    target: { host: '127.0.0.1', port: server.port, ca: cert },
    cert,
    key: await readFile(server.keyFile),
  };
}
