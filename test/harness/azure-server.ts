// A real Azure Blob server for tests: Azurite (a devDependency), blob service only, in memory, TLS with a
// certificate made here.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Agent, request } from 'node:https';
import { dirname, join } from 'node:path';

import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  generateAccountSASQueryParameters,
  newPipeline,
  SASProtocol,
  StorageSharedKeyCredential,
  type RequestPolicy,
  type WebResource,
} from '@azure/storage-blob';

import type { AzureRepoOptions } from '../../src/storage/azure-client.js';
import { freePort } from './ports.js';
import { makeCertificate, spawnServer, type ServerProcess } from './test-server.js';
import { createTempDir, removeTempDir } from './tmp.js';

/** Azurite's well-known development account and key. */
const ACCOUNT = 'devstoreaccount1';
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
let containerCount = 0;

/** Azurite's blob service entry point, from node_modules; undefined when it is not installed. */
function azuriteBlobMain(): string | undefined {
  try {
    const manifest = createRequire(import.meta.url).resolve('azurite/package.json');
    const main = join(dirname(manifest), 'dist', 'src', 'blob', 'main.js');
    return existsSync(main) ? main : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether Azurite is installed (npm ci installs it). Under CI (CI=true) a missing one is an error, so the suites
 * that need it fail instead of being skipped.
 */
export function azureServerAvailable(): boolean {
  if (azuriteBlobMain() !== undefined) return true;
  if (process.env['CI'] === 'true') throw new Error('the Azurite test server is not installed: run npm ci');
  return false;
}

export interface AzureTestServer {
  /** host:port, as repoN-azure-endpoint takes it (with repoN-azure-uri-style=path). */
  readonly endpoint: string;
  readonly port: number;
  /** The CA (the self-signed certificate itself) to give as repoN-storage-ca-file. */
  readonly caFile: string;
  /** The certificate's private key (for a fault proxy standing in front: proxyOptionsFor). */
  readonly keyFile: string;
  readonly account: string;
  /** The account's shared key. */
  readonly key: string;
  /** A client of the test itself (creating containers, looking behind the driver). */
  readonly service: BlobServiceClient;
  /** Creates a container, named after `label` and unique on this server. */
  createContainer(label: string): Promise<string>;
  /** An account SAS token allowing every blob operation for an hour (`sp` narrows the permissions). */
  sasToken(permissions?: string): string;
  /**
   * The PGSTASH_* variables of a CLI run with repo1 in `container` under '/cli' (shared key; `auto`: key type auto
   * and no key), logs and locks in `dir`.
   */
  cliEnv(container: string, dir: string, options?: { auto?: boolean }): Record<string, string>;
  /** The repoN options of a repository in `container` under `path` (default '/repo'). */
  repoOptions(container: string, overrides?: Partial<AzureRepoOptions>): AzureRepoOptions & { type: 'azure' };
  stop(): Promise<void>;
}

/**
 * Starts Azurite on a free 127.0.0.1 port with TLS, in memory; resolves once it answers. `oauth`: it also takes
 * bearer tokens (`--oauth basic`: their audience, issuer and times checked, not their signature).
 */
export async function startAzureServer(options: { oauth?: boolean } = {}): Promise<AzureTestServer> {
  const main = azuriteBlobMain();
  if (main === undefined) throw new Error('Azurite is not installed: run npm ci');
  // 0711: the postgres user (archive_command, restore_command) reads the certificate, as repoN-storage-ca-file.
  const dir = await createTempDir({ owner: 'root', mode: 0o711, label: 'azurite' });
  let serverProcess: ServerProcess | undefined;
  try {
    const { cert, key } = await makeCertificate(dir);
    const port = await freePort();
    const ca = await readFile(cert, 'utf8');
    serverProcess = await spawnServer(
      'Azurite',
      process.execPath,
      [
        main,
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        String(port),
        '--inMemoryPersistence',
        '--disableTelemetry',
        '--skipApiVersionCheck',
        '--silent',
        '--cert',
        cert,
        '--key',
        key,
        ...(options.oauth === true ? ['--oauth', 'basic'] : []),
      ],
      { dir, answers: () => answers(port, ca), timeoutMs: 30_000 },
    );
    const started = serverProcess;
    const endpoint = `127.0.0.1:${port}`;
    const credential = new StorageSharedKeyCredential(ACCOUNT, KEY);
    const agent = new Agent({ ca, keepAlive: true });
    const pipeline = newPipeline(credential);
    pipeline.factories.push({
      create: (next: RequestPolicy): RequestPolicy => ({
        sendRequest: (webResource: WebResource) => {
          webResource.agent = agent;
          return next.sendRequest(webResource);
        },
      }),
    });
    const service = new BlobServiceClient(`https://${endpoint}/${ACCOUNT}`, pipeline);
    return {
      endpoint,
      port,
      caFile: cert,
      keyFile: key,
      account: ACCOUNT,
      key: KEY,
      service,
      async createContainer(label) {
        const name = `${label
          .toLowerCase()
          .replace(/[^a-z0-9-]/g, '-')
          .slice(0, 40)}-${process.pid}-${++containerCount}`;
        await service.getContainerClient(name).create();
        return name;
      },
      sasToken(permissions = 'rwdlac') {
        return generateAccountSASQueryParameters(
          {
            expiresOn: new Date(Date.now() + 3600_000),
            permissions: AccountSASPermissions.parse(permissions),
            resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
            services: AccountSASServices.parse('b').toString(),
            protocol: SASProtocol.Https,
          },
          credential,
        ).toString();
      },
      cliEnv(container, dir, options = {}) {
        return {
          PGSTASH_REPO1_TYPE: 'azure',
          PGSTASH_REPO1_PATH: '/cli',
          PGSTASH_REPO1_AZURE_ACCOUNT: ACCOUNT,
          PGSTASH_REPO1_AZURE_CONTAINER: container,
          PGSTASH_REPO1_AZURE_ENDPOINT: endpoint,
          PGSTASH_REPO1_AZURE_URI_STYLE: 'path',
          ...(options.auto === true
            ? { PGSTASH_REPO1_AZURE_KEY_TYPE: 'auto' }
            : { PGSTASH_REPO1_AZURE_KEY: KEY }),
          PGSTASH_REPO1_STORAGE_CA_FILE: cert,
          PGSTASH_LOG_PATH: dir,
          PGSTASH_LOCK_PATH: join(dir, 'lock'),
        };
      },
      repoOptions(container, overrides = {}) {
        return {
          type: 'azure',
          index: 1,
          path: '/repo',
          ioTimeout: 20,
          azureAccount: ACCOUNT,
          azureContainer: container,
          azureEndpoint: endpoint,
          azureUriStyle: 'path',
          azureKeyType: 'shared',
          azureKey: KEY,
          storagePort: 443,
          storageVerifyTls: true,
          storageCaFile: cert,
          storageUploadChunkSize: 5 * 1024 * 1024,
          ...overrides,
        };
      },
      async stop() {
        agent.destroy();
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

/** Whether Azurite answers HTTPS at all (any status below 500). */
function answers(port: number, ca: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const probe = request(
      { host: '127.0.0.1', port, path: `/${ACCOUNT}?comp=list`, method: 'GET', ca, timeout: 2000 },
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
