// The S3 storage driver: a repository under a key prefix of an S3 bucket (AWS or any S3-compatible store).
import type { Readable, Writable } from 'node:stream';

import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type GetObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';

import { fail, PgStashError } from '../common/errors.js';
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
import { PartWriteStream } from './part-write.js';
import { abortable, createS3Client, s3Settings, type S3RepoOptions, type S3Settings } from './s3-client.js';
import {
  isEmptyRange,
  isMissingObject,
  isPreconditionFailed,
  isTemporary,
  translateS3Error,
} from './s3-errors.js';
import { PARTS_IN_FLIGHT, S3_PART_LIMITS, s3PartUpload } from './s3-write.js';
import { failureKind } from './store-errors.js';

/** Keys per DeleteObjects request (S3's maximum). */
const DELETE_BATCH = 1000;
/**
 * Objects a restore worker reads at once (Capabilities.readsInFlight). Each holds a response stream and a chunk being
 * decoded, about 2 MiB; eight per worker hide a cloud's round trips without a memory cost worth counting.
 */
const READS_IN_FLIGHT = 8;

/** Opens the driver of an S3 repository; a missing or invalid option fails here, before any request. */
export function openS3Storage(options: S3RepoOptions): S3Driver {
  const settings = s3Settings(options);
  return new S3Driver(createS3Client(options, settings), settings);
}

/** See Driver for the behaviour every method guarantees; objects hold what posix files would. */
export class S3Driver implements Driver {
  readonly capabilities: Capabilities;
  readonly location: string;
  readonly #client: S3Client;
  readonly #settings: S3Settings;

  constructor(client: S3Client, settings: S3Settings) {
    this.#client = client;
    this.#settings = settings;
    this.location = settings.prefix === '' ? settings.bucketUrl : `${settings.bucketUrl}/${settings.prefix}`;
    this.capabilities = {
      path: false,
      atomicWrite: true,
      atomicMove: false,
      readsInFlight: READS_IN_FLIGHT,
      parts: { size: settings.partSize, inFlight: PARTS_IN_FLIGHT, ...S3_PART_LIMITS },
    };
  }

  async info(path: string, options?: RequestOptions): Promise<StorageInfo | undefined> {
    const key = this.#key(path);
    if (path === '') return { name: '', type: 'path', size: 0, mtimeMs: 0 };
    try {
      const head = await this.#request(
        'get info for',
        path,
        (signal) => this.#client.send(new HeadObjectCommand(this.#object(key)), abortable(signal)),
        options?.signal,
      );
      return {
        name: path,
        type: 'file',
        size: head.ContentLength ?? 0,
        mtimeMs: head.LastModified?.getTime() ?? 0,
      };
    } catch (error) {
      if (isMissingObject(storeCause(error))) return undefined;
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
        (signal) =>
          this.#client.send(
            new ListObjectsV2Command({
              Bucket: this.#settings.bucket,
              Prefix: prefix,
              Delimiter: '/',
              ...(token === undefined ? {} : { ContinuationToken: token }),
            }),
            abortable(signal),
          ),
        options?.signal,
      );
      for (const common of page.CommonPrefixes ?? []) {
        const name = (common.Prefix ?? '').slice(directory.length).replace(/\/$/, '');
        if (name !== '') yield { name, type: 'path', size: 0, mtimeMs: 0 };
      }
      for (const object of page.Contents ?? []) {
        const name = (object.Key ?? '').slice(directory.length);
        // A "directory marker" (a key ending in '/', made by some tools) is not a file.
        if (name === '' || name.endsWith('/')) continue;
        yield { name, type: 'file', size: object.Size ?? 0, mtimeMs: object.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async openRead(path: string, options?: ReadOptions): Promise<Readable | undefined> {
    const key = this.#key(path);
    return openRangedRead(options, {
      url: this.#url(path),
      ioTimeoutMs: this.#settings.ioTimeoutMs,
      signal: options?.signal,
      exists: async () => (await this.info(path, options)) !== undefined,
      get: (offset, limit, etag) => this.#get(path, key, offset, limit, etag, options?.signal),
      version: (response) => response.ETag,
      bodyStream: (response) => response.Body as Readable | undefined,
      isMissing: isMissingObject,
      isEmptyRange,
      isTemporary,
      translate: (error) => this.#translate(error, 'read', path),
    });
  }

  async read(path: string, options?: ReadOptions): Promise<Buffer | undefined> {
    return collectRead(await this.openRead(path, options));
  }

  /**
   * One GetObject of `key` from `offset` (at most `limit` bytes), retried within io-timeout. `etag` pins the
   * version a resumed read continues (If-Match: a replaced object fails the read rather than mixing two versions).
   */
  #get(
    path: string,
    key: string,
    offset: number,
    limit: number | undefined,
    etag: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<GetObjectCommandOutput> {
    const range =
      offset === 0 && limit === undefined
        ? undefined
        : `bytes=${offset}-${limit === undefined ? '' : offset + limit - 1}`;
    return this.#request(
      'read',
      path,
      (requestSignal) =>
        this.#client.send(
          new GetObjectCommand({
            ...this.#object(key),
            ...(range === undefined ? {} : { Range: range }),
            ...(etag === undefined ? {} : { IfMatch: etag }),
          }),
          abortable(requestSignal),
        ),
      signal,
    );
  }

  async openWrite(path: string, options?: WriteOptions): Promise<Writable> {
    if (path === '') fail('paramInvalid', `unable to write '${this.location}': it is the storage root`);
    const key = this.#key(path);
    const upload = s3PartUpload({
      client: this.#client,
      bucket: this.#settings.bucket,
      key,
      url: this.#url(path),
      ifAbsent: options?.ifAbsent ?? false,
      kmsKeyId: this.#settings.kmsKeyId,
      request: (action, send, signal) =>
        this.#request(action, path, send, signal).catch((error: unknown) => {
          if (options?.ifAbsent === true && isPreconditionFailed((error as PgStashError).cause)) {
            throw new PgStashError('fileExists', `unable to create '${this.#url(path)}': it exists already`, {
              cause: error,
            });
          }
          throw error;
        }),
    });
    return new PartWriteStream(upload, {
      partSize: this.#settings.partSize,
      inFlight: PARTS_IN_FLIGHT,
      maxCount: S3_PART_LIMITS.maxCount,
      url: this.#url(path),
      partSizeOption: 'repo-storage-upload-chunk-size',
      signal: options?.signal,
    });
  }

  async remove(path: string, options?: RequestOptions): Promise<void> {
    const key = this.#key(path);
    if (path === '') fail('paramInvalid', `unable to remove '${this.location}': it is the storage root`);
    await this.#request(
      'remove',
      path,
      (signal) => this.#client.send(new DeleteObjectCommand(this.#object(key)), abortable(signal)),
      options?.signal,
    );
  }

  /**
   * Lists every key below `path` (no delimiter: one request per 1,000 keys) and deletes them 1,000 at a time, then
   * the folders they were in.
   */
  async removeTree(path: string, options?: RequestOptions): Promise<void> {
    const keys: string[] = path === '' ? [] : [this.#key(path)];
    const prefix = this.#directoryPrefix(path);
    const folders = new Set<string>();
    let token: string | undefined;
    do {
      const page = await this.#request(
        'list',
        path,
        (signal) =>
          this.#client.send(
            new ListObjectsV2Command({
              Bucket: this.#settings.bucket,
              Prefix: prefix,
              ...(token === undefined ? {} : { ContinuationToken: token }),
            }),
            abortable(signal),
          ),
        options?.signal,
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        keys.push(object.Key);
        for (let end = object.Key.lastIndexOf('/'); end >= prefix.length;) {
          folders.add(object.Key.slice(0, end + 1));
          end = object.Key.lastIndexOf('/', end - 1);
        }
      }
      while (keys.length >= DELETE_BATCH)
        await this.#deleteBatch(path, keys.splice(0, DELETE_BATCH), options);
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    // The folders last, deepest first: some stores (SeaweedFS) keep an emptied folder, listed as a common prefix,
    // for minutes unless it is deleted by its name ending in '/'; elsewhere such a key does not exist, and
    // deleting it, in a batch being sent anyway, costs nothing.
    if (prefix !== '') folders.add(prefix);
    keys.push(...[...folders].sort((a, b) => b.length - a.length));
    while (keys.length > 0) await this.#deleteBatch(path, keys.splice(0, DELETE_BATCH), options);
  }

  async #deleteBatch(path: string, keys: string[], options: RequestOptions | undefined): Promise<void> {
    const result = await this.#request(
      'remove',
      path,
      (signal) =>
        this.#client.send(
          new DeleteObjectsCommand({
            Bucket: this.#settings.bucket,
            Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
          }),
          abortable(signal),
        ),
      options?.signal,
    );
    // A missing key is not an error for DeleteObjects; anything it reports is.
    const failed = result.Errors?.[0];
    if (failed !== undefined) {
      throw new PgStashError(
        'fileWrite',
        `unable to remove '${this.#settings.bucketUrl}/${failed.Key ?? ''}': ${failed.Code ?? 'Error'}: ${failed.Message ?? ''}`,
        { hint: `${result.Errors?.length ?? 1} of ${keys.length} objects were not removed` },
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
    return translateS3Error(error, {
      action,
      url: this.#url(path),
      repo: this.#settings.repo,
      kind: failureKind(action),
    });
  }

  #object(key: string): { Bucket: string; Key: string } {
    return { Bucket: this.#settings.bucket, Key: key };
  }

  #url(path: string): string {
    return objectUrl(this.location, path);
  }

  /** The key of a driver path; rejects paths that could leave the prefix. */
  #key(path: string): string {
    return objectKey(this.#settings.prefix, path);
  }

  /** The key prefix of everything below `path` ('' for the root of a repository at the bucket's root). */
  #directoryPrefix(path: string): string {
    return directoryPrefix(this.#settings.prefix, path);
  }
}
