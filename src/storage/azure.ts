// The Azure Blob storage driver: a repository under a blob name prefix of an Azure Blob Storage container.
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';

import type { BlobDownloadResponseParsed, ContainerClient } from '@azure/storage-blob';

import { fail, PgStashError } from '../common/errors.js';
import {
  AZURE_BLOCK_LIMITS,
  azureSettings,
  createAzureContainer,
  type AzureRepoOptions,
  type AzureSettings,
} from './azure-client.js';
import {
  isAlreadyExisting,
  isEmptyRange,
  isMissingBlob,
  isTemporary,
  translateAzureError,
} from './azure-errors.js';
import type {
  Capabilities,
  Driver,
  ReadOptions,
  RequestOptions,
  StorageInfo,
  WriteOptions,
} from './driver.js';
import {
  collectRead,
  directoryPrefix,
  objectKey,
  objectUrl,
  openRangedRead,
  storeCause,
  storeRequest,
} from './object-store.js';
import { PartWriteStream, type PartUpload } from './part-write.js';
import { failureKind } from './store-errors.js';
import { runParallel } from '../io/parallel.js';

/** Blocks of one blob uploading at once. */
export const BLOCKS_IN_FLIGHT = 4;
/** Sub-requests per blob batch (Azure's maximum). */
const DELETE_BATCH = 256;
/** Single deletes at once where there is no batch (a SAS token). */
const DELETES_IN_FLIGHT = 16;
/** Blobs per list request (Azure's maximum and default). */
const LIST_PAGE = 5000;

/** Opens the driver of an Azure repository; a missing or invalid option fails here, before any request. */
export function openAzureStorage(options: AzureRepoOptions, tuning?: { listPage?: number }): AzureDriver {
  const settings = azureSettings(options);
  return new AzureDriver(createAzureContainer(options, settings), settings, tuning?.listPage ?? LIST_PAGE);
}

/** See Driver for the behaviour every method guarantees; blobs hold what posix files would. */
export class AzureDriver implements Driver {
  readonly capabilities: Capabilities;
  readonly location: string;
  readonly #container: ContainerClient;
  readonly #settings: AzureSettings;
  readonly #listPage: number;

  constructor(container: ContainerClient, settings: AzureSettings, listPage: number) {
    this.#container = container;
    this.#settings = settings;
    this.#listPage = listPage;
    this.location =
      settings.prefix === '' ? settings.containerUrl : `${settings.containerUrl}/${settings.prefix}`;
    this.capabilities = {
      path: false,
      atomicWrite: true,
      atomicMove: false,
      parts: { size: settings.blockSize, inFlight: BLOCKS_IN_FLIGHT, ...AZURE_BLOCK_LIMITS },
    };
  }

  async info(path: string, options?: RequestOptions): Promise<StorageInfo | undefined> {
    if (path === '') return { name: '', type: 'path', size: 0, mtimeMs: 0 };
    const blob = this.#container.getBlobClient(this.#key(path));
    try {
      const properties = await this.#request(
        'get info for',
        path,
        (signal) => blob.getProperties(abortable(signal)),
        options?.signal,
      );
      return {
        name: path,
        type: 'file',
        size: properties.contentLength ?? 0,
        mtimeMs: properties.lastModified?.getTime() ?? 0,
      };
    } catch (error) {
      if (isMissingBlob(storeCause(error))) return undefined;
      throw error;
    }
  }

  async *list(path: string, options?: { prefix?: string } & RequestOptions): AsyncIterable<StorageInfo> {
    const directory = this.#directoryPrefix(path);
    const prefix = `${directory}${options?.prefix ?? ''}`;
    let token: string | undefined;
    do {
      const page = await this.#request(
        'list',
        path,
        async (signal) =>
          (
            await this.#container
              .listBlobsByHierarchy('/', { prefix, ...abortable(signal) })
              .byPage({
                maxPageSize: this.#listPage,
                ...(token === undefined ? {} : { continuationToken: token }),
              })
              .next()
          ).value,
        options?.signal,
      );
      if (page === undefined) return;
      for (const common of page.segment.blobPrefixes ?? []) {
        const name = common.name.slice(directory.length).replace(/\/$/, '');
        if (name !== '') yield { name, type: 'path', size: 0, mtimeMs: 0 };
      }
      for (const blob of page.segment.blobItems) {
        const name = blob.name.slice(directory.length);
        if (name === '' || name.endsWith('/')) continue;
        yield {
          name,
          type: 'file',
          size: blob.properties.contentLength ?? 0,
          mtimeMs: blob.properties.lastModified.getTime(),
        };
      }
      token = page.continuationToken === '' ? undefined : page.continuationToken;
    } while (token !== undefined);
  }

  async openRead(path: string, options?: ReadOptions): Promise<Readable | undefined> {
    const ioTimeoutMs = this.#settings.ioTimeoutMs;
    return openRangedRead(options, {
      url: this.#url(path),
      ioTimeoutMs,
      signal: options?.signal,
      exists: async () => (await this.info(path, options)) !== undefined,
      get: (offset, limit, etag) => this.#get(path, offset, limit, etag, options?.signal),
      version: (response) => response.etag,
      bodyStream: (response) => response.readableStreamBody as Readable | undefined,
      // The SDK gives a body no time limit of its own: one that stalls fails after io-timeout and is resumed.
      chunks: (body) => idleLimited(body, ioTimeoutMs),
      isMissing: isMissingBlob,
      isEmptyRange,
      isTemporary,
      translate: (error) => this.#translate(error, 'read', path),
    });
  }

  async read(path: string, options?: ReadOptions): Promise<Buffer | undefined> {
    return collectRead(await this.openRead(path, options));
  }

  /**
   * One Get Blob from `offset` (at most `limit` bytes), retried within io-timeout. `etag` pins the version a
   * resumed read continues (If-Match: a replaced blob fails the read rather than mixing two versions).
   */
  #get(
    path: string,
    offset: number,
    limit: number | undefined,
    etag: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<BlobDownloadResponseParsed> {
    const blob = this.#container.getBlobClient(this.#key(path));
    return this.#request(
      'read',
      path,
      (requestSignal) =>
        blob.download(offset, limit, {
          ...abortable(requestSignal),
          // The SDK would re-request a body cut short on its own: openRangedRead does it, within io-timeout.
          maxRetryRequests: 0,
          ...(etag === undefined ? {} : { conditions: { ifMatch: etag } }),
        }),
      signal,
    );
  }

  async openWrite(path: string, options?: WriteOptions): Promise<Writable> {
    if (path === '') fail('paramInvalid', `unable to write '${this.location}': it is the storage root`);
    const blob = this.#container.getBlockBlobClient(this.#key(path));
    const ifAbsent = options?.ifAbsent ?? false;
    const conditions = ifAbsent ? { conditions: { ifNoneMatch: '*' } } : {};
    const request = <T>(
      send: (signal: AbortSignal | undefined) => Promise<T>,
      signal: AbortSignal,
    ): Promise<T> =>
      this.#request('write', path, send, signal).catch((error: unknown) => {
        if (ifAbsent && isAlreadyExisting((error as PgStashError).cause)) {
          throw new PgStashError('fileExists', `unable to create '${this.#url(path)}': it exists already`, {
            cause: error,
          });
        }
        throw error;
      });
    // Block ids: this write's own random prefix, so that two writers of one blob never stage over each other's
    // blocks; all of one length, as Azure requires.
    const writeId = randomBytes(12).toString('hex');
    const blockId = (number: number) =>
      Buffer.from(`${writeId}-${String(number).padStart(6, '0')}`).toString('base64');
    const upload: PartUpload = {
      putWhole: (body, signal) =>
        request(
          (signal) => blob.upload(body, body.length, { ...abortable(signal), ...conditions }),
          signal,
        ).then(() => undefined),
      putPart: (number, body, signal) =>
        request(
          (signal) => blob.stageBlock(blockId(number), body, body.length, abortable(signal)),
          signal,
        ).then(() => undefined),
      complete: (count, signal) =>
        request(
          (signal) =>
            blob.commitBlockList(
              Array.from({ length: count }, (_, index) => blockId(index + 1)),
              { ...abortable(signal), ...conditions },
            ),
          signal,
        ).then(() => undefined),
      // Azure has no request that drops uncommitted blocks: the service discards them after 7 days, or when
      // another write of the blob commits.
      abandon: async () => {},
    };
    return new PartWriteStream(upload, {
      partSize: this.#settings.blockSize,
      inFlight: BLOCKS_IN_FLIGHT,
      maxCount: AZURE_BLOCK_LIMITS.maxCount,
      url: this.#url(path),
      partSizeOption: `${this.#settings.repo}-storage-upload-chunk-size`,
      signal: options?.signal,
    });
  }

  async remove(path: string, options?: RequestOptions): Promise<void> {
    if (path === '') fail('paramInvalid', `unable to remove '${this.location}': it is the storage root`);
    const blob = this.#container.getBlobClient(this.#key(path));
    await this.#request('remove', path, (signal) => blob.deleteIfExists(abortable(signal)), options?.signal);
  }

  /**
   * Lists every blob below `path` (no delimiter: one request per 5,000) and deletes them in batches of 256 (one
   * request per blob with a SAS token).
   */
  async removeTree(path: string, options?: RequestOptions): Promise<void> {
    const names: string[] = path === '' ? [] : [this.#key(path)];
    const prefix = this.#directoryPrefix(path);
    let token: string | undefined;
    do {
      const page = await this.#request(
        'list',
        path,
        async (signal) =>
          (
            await this.#container
              .listBlobsFlat({ prefix, ...abortable(signal) })
              .byPage({
                maxPageSize: this.#listPage,
                ...(token === undefined ? {} : { continuationToken: token }),
              })
              .next()
          ).value,
        options?.signal,
      );
      if (page === undefined) break;
      for (const blob of page.segment.blobItems) names.push(blob.name);
      while (names.length >= DELETE_BATCH)
        await this.#deleteBatch(path, names.splice(0, DELETE_BATCH), options);
      token = page.continuationToken === '' ? undefined : page.continuationToken;
    } while (token !== undefined);
    if (names.length > 0) await this.#deleteBatch(path, names, options);
  }

  /**
   * One Blob Batch of deletes, or with a SAS token one Delete Blob per name, DELETES_IN_FLIGHT at once; a blob
   * already gone is not an error, anything else a sub-request reports is.
   */
  async #deleteBatch(path: string, names: string[], options: RequestOptions | undefined): Promise<void> {
    if (!this.#settings.batchDelete) {
      await runParallel(names, {
        concurrency: DELETES_IN_FLIGHT,
        worker: (name) =>
          this.#request(
            'remove',
            path,
            (signal) => this.#container.getBlobClient(name).deleteIfExists(abortable(signal)),
            options?.signal,
          ),
      });
      return;
    }
    const blobs = names.map((name) => this.#container.getBlobClient(name));
    const result = await this.#request(
      'remove',
      path,
      (signal) => this.#container.getBlobBatchClient().deleteBlobs(blobs, abortable(signal)),
      options?.signal,
    );
    const failed = result.subResponses.filter((answer) => answer.status !== 202 && answer.status !== 404);
    const first = failed[0];
    if (first !== undefined) {
      const name = first._request.url.split('?')[0] ?? '';
      throw new PgStashError(
        'fileWrite',
        `unable to remove '${name}': ${first.errorCode ?? 'Error'}, HTTP ${first.status}: ${first.statusMessage}`,
        { hint: `${failed.length} of ${names.length} blobs were not removed` },
      );
    }
  }

  /** Every write is durable once its request is answered: nothing to flush. */
  async flush(): Promise<void> {}

  /** One request with retries within io-timeout; any failure comes out translated, naming the URL. */
  async #request<T>(
    action: string,
    path: string,
    send: (signal: AbortSignal | undefined) => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    return storeRequest(send, signal, {
      ioTimeoutMs: this.#settings.ioTimeoutMs,
      isTemporary,
      translate: (error) => this.#translate(error, action, path),
    });
  }

  #translate(error: unknown, action: string, path: string): PgStashError {
    return translateAzureError(error, {
      action,
      url: this.#url(path),
      repo: this.#settings.repo,
      kind: failureKind(action),
    });
  }

  #url(path: string): string {
    return objectUrl(this.location, path);
  }

  /** The blob name of a driver path; rejects paths that could leave the prefix. */
  #key(path: string): string {
    return objectKey(this.#settings.prefix, path);
  }

  /** The name prefix of everything below `path` ('' for the root of a repository at the container's root). */
  #directoryPrefix(path: string): string {
    return directoryPrefix(this.#settings.prefix, path);
  }
}

/** The SDK's per-request options for a signal that may be undefined. */
function abortable(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal === undefined ? {} : { abortSignal: signal };
}

/**
 * The chunks of `body`, failing with ETIMEDOUT when none arrives for `ms` (a stalled connection): the caller then
 * continues with a new request.
 */
async function* idleLimited(body: Readable, ms: number): AsyncGenerator<Buffer> {
  const chunks = body[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  try {
    for (;;) {
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = Object.assign(new Error(`no data for ${ms} ms`), { code: 'ETIMEDOUT' });
          body.destroy(error);
          reject(error);
        }, ms);
      });
      const next = await Promise.race([chunks.next(), stalled]);
      clearTimeout(timer);
      if (next.done === true) return;
      yield next.value as Buffer;
    }
  } finally {
    clearTimeout(timer);
    body.destroy();
  }
}
