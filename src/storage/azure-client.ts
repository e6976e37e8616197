// The Azure Blob client of a repository: account, container, endpoint, addressing style, TLS trust and credential
// from the repoN-azure-* options.
import type { Agent } from 'node:https';

import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';

import {
  AnonymousCredential,
  BlobServiceClient,
  newPipeline,
  StorageSharedKeyCredential,
  type ContainerClient,
  type RequestPolicy,
  type RequestPolicyFactory,
  type WebResource,
} from '@azure/storage-blob';

import { fail } from '../common/errors.js';
import { endpointHostPort, required } from './endpoint.js';
import { storageAgent, type TlsTrustOptions } from './https-agent.js';

/** The repoN options an Azure repository reads (field names as in RepoOptions). */
export interface AzureRepoOptions extends TlsTrustOptions {
  readonly index?: number;
  readonly path: string;
  readonly ioTimeout?: number | undefined;
  readonly azureAccount?: string | undefined;
  readonly azureContainer?: string | undefined;
  readonly azureEndpoint?: string | undefined;
  readonly azureUriStyle?: 'host' | 'path' | undefined;
  readonly azureKeyType?: 'shared' | 'sas' | 'auto' | undefined;
  readonly azureKey?: string | undefined;
  readonly storagePort?: number | undefined;
  readonly storageUploadChunkSize?: number | undefined;
}

/** Azure's limits on the blocks of a block blob. */
export const AZURE_BLOCK_LIMITS = { minSize: 1, maxSize: 4000 * 1024 * 1024, maxCount: 50_000 };

export interface AzureSettings {
  readonly repo: string;
  readonly account: string;
  readonly container: string;
  /** Blob name prefix of the repository inside the container: repoN-path without its leading '/'. */
  readonly prefix: string;
  /** The container's URL, for messages (never with a SAS token): https://host:port/account/container, ... */
  readonly containerUrl: string;
  readonly ioTimeoutMs: number;
  readonly blockSize: number;
  /**
   * Deletes go in Blob Batch requests (shared key) or one request per blob (a SAS token: Azurite refuses a batch
   * signed by one, so that path could not be tested).
   */
  readonly batchDelete: boolean;
}

/** Reads and checks the options; fails with the option's name when one is missing or invalid. */
export function azureSettings(options: AzureRepoOptions): AzureSettings {
  const repo = `repo${options.index ?? 1}`;
  const account = required(options.azureAccount, `${repo}-azure-account`);
  if (!/^[a-z0-9]{3,24}$/.test(account)) {
    fail('optionInvalidValue', `'${account}' is not valid for '${repo}-azure-account' option`, {
      hint: 'a storage account name is 3 to 24 lower-case letters and digits',
    });
  }
  const container = required(options.azureContainer, `${repo}-azure-container`);
  if (!/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/.test(container)) {
    fail('optionInvalidValue', `'${container}' is not valid for '${repo}-azure-container' option`, {
      hint: 'a container name is 3 to 63 lower-case letters, digits and single hyphens, starting with a letter or digit',
    });
  }
  const hostPort = endpointHostPort(
    required(options.azureEndpoint, `${repo}-azure-endpoint`),
    required(options.storagePort, `${repo}-storage-port`),
    `${repo}-azure-endpoint`,
  );
  const blockSize = required(options.storageUploadChunkSize, `${repo}-storage-upload-chunk-size`);
  if (blockSize > AZURE_BLOCK_LIMITS.maxSize) {
    fail('optionInvalidValue', `'${blockSize}' is not valid for '${repo}-storage-upload-chunk-size' option`, {
      hint: 'Azure takes blocks of at most 4000 MiB',
    });
  }
  const accountUrl =
    (options.azureUriStyle ?? 'host') === 'path'
      ? `https://${hostPort}/${account}`
      : `https://${account}.${hostPort}`;
  return {
    repo,
    account,
    container,
    prefix: options.path.replace(/^\/+|\/+$/g, ''),
    containerUrl: `${accountUrl}/${container}`,
    ioTimeoutMs: required(options.ioTimeout, 'io-timeout') * 1000,
    blockSize,
    // A managed identity's token deletes one blob per request too: Azurite's batch with a bearer token is untested.
    batchDelete: (options.azureKeyType ?? 'shared') === 'shared',
  };
}

/**
 * The shared key (base64) or SAS token of repoN-azure-key, checked without ever showing it; or, for key type auto,
 * the host's managed identity.
 */
function credentialOf(
  options: AzureRepoOptions,
  settings: AzureSettings,
): { credential: StorageSharedKeyCredential | AnonymousCredential | TokenCredential; query: string } {
  const { repo } = settings;
  if (options.azureKeyType === 'auto') return { credential: new ManagedIdentity(), query: '' };
  const key = required(options.azureKey, `${repo}-azure-key`);
  if ((options.azureKeyType ?? 'shared') === 'shared') {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || key.length % 4 !== 0) {
      fail('optionInvalidValue', `${repo}-azure-key is not a base64 shared key`, {
        hint: `give the storage account's access key, or set ${repo}-azure-key-type=sas for a SAS token`,
      });
    }
    return { credential: new StorageSharedKeyCredential(settings.account, key), query: '' };
  }
  const sas = key.replace(/^\?/, '');
  if (!/(^|&)sig=/.test(sas)) {
    fail('optionInvalidValue', `${repo}-azure-key is not a SAS token (no 'sig=' parameter)`, {
      hint: `give the token's query string, or set ${repo}-azure-key-type=shared for an account key`,
    });
  }
  return { credential: new AnonymousCredential(), query: `?${sas}` };
}

/**
 * repoN-azure-key-type=auto: the managed identity of the host (pgBackRest's auto: the instance metadata service on a
 * VM, the IDENTITY_ENDPOINT of App Service, Functions, Container Apps, Arc), through @azure/identity's
 * ManagedIdentityCredential; AZURE_CLIENT_ID picks a user-assigned identity. The library is loaded at the first
 * token, so a command of a shared-key or SAS repository never loads it.
 */
class ManagedIdentity implements TokenCredential {
  #credential: Promise<TokenCredential> | undefined;

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    this.#credential ??= import('@azure/identity').then(({ ManagedIdentityCredential }) => {
      const clientId = process.env['AZURE_CLIENT_ID'];
      return clientId === undefined || clientId === ''
        ? new ManagedIdentityCredential()
        : new ManagedIdentityCredential(clientId);
    });
    return (await this.#credential).getToken(scopes, options);
  }
}

/**
 * Gives every request the repository's HTTPS agent (kept-alive sockets, TLS trust) and a time limit for its
 * answer to begin (io-timeout): a request past it is aborted, and retried by the driver.
 */
function agentPolicy(agent: Agent, timeoutMs: number): RequestPolicyFactory {
  return {
    create: (next: RequestPolicy): RequestPolicy => ({
      sendRequest: (request: WebResource) => {
        request.agent = agent;
        request.timeout = timeoutMs;
        return next.sendRequest(request);
      },
    }),
  };
}

/** The container's client: no SDK retries (withRetry does them, within io-timeout), HTTPS with the repo's trust. */
export function createAzureContainer(options: AzureRepoOptions, settings: AzureSettings): ContainerClient {
  const { credential, query } = credentialOf(options, settings);
  const pipeline = newPipeline(credential, { retryOptions: { maxTries: 1 } });
  pipeline.factories.push(agentPolicy(storageAgent(options, settings.repo), settings.ioTimeoutMs));
  const accountUrl = settings.containerUrl.slice(0, -settings.container.length - 1);
  return new BlobServiceClient(`${accountUrl}${query}`, pipeline).getContainerClient(settings.container);
}
