// The GCS storage driver: a repository under a name prefix of a Google Cloud Storage bucket (JSON API).
import type { Readable, Writable } from 'node:stream';

import { fail, PgStashError } from '../common/errors.js';
import { runParallel } from '../io/parallel.js';
import type {
  Capabilities,
  Driver,
  ReadOptions,
  RequestOptions,
  StorageInfo,
  WriteOptions,
} from './driver.js';
import {
  GCS_CHUNK_QUANTUM,
  GcsClient,
  gcsSettings,
  type GcsRepoOptions,
  type GcsResponse,
  type GcsSettings,
} from './gcs-client.js';
import {
  isEmptyRange,
  isMissingObject,
  isPreconditionFailed,
  isTemporary,
  translateGcsError,
} from './gcs-errors.js';
import { GCS_CHUNKS_IN_FLIGHT, GcsWriteStream } from './gcs-write.js';
import {
  collectRead,
  directoryPrefix,
  objectKey,
  objectUrl,
  openRangedRead,
  storeRequest,
} from './object-store.js';
import { failureKind } from './store-errors.js';

/** Deletes in flight at once in removeTree (GCS has no multi-object delete in its JSON API). */
const DELETES_IN_FLIGHT = 16;

/** An object in a list or metadata answer (sizes are decimal strings in the JSON API). */
interface GcsObject {
  readonly name?: string;
  readonly size?: string;
  readonly updated?: string;
}

/**
 * Opens the driver of a GCS repository; a missing or invalid option (or key file) fails here, before any request.
 * `tuning` is for tests only.
 */
export function openGcsStorage(options: GcsRepoOptions, tuning?: { listPageSize?: number }): GcsDriver {
  const settings = { ...gcsSettings(options), ...tuning };
  return new GcsDriver(new GcsClient(options, settings), settings);
}

/** See Driver for the behaviour every method guarantees; objects hold what posix files would. */
export class GcsDriver implements Driver {
  readonly capabilities: Capabilities;
  readonly location: string;
  readonly #client: GcsClient;
  readonly #settings: GcsSettings;
  readonly #bucketUrl: string;

  constructor(client: GcsClient, settings: GcsSettings) {
    this.#client = client;
    this.#settings = settings;
    this.#bucketUrl = `gs://${settings.bucket}`;
    this.location = settings.prefix === '' ? this.#bucketUrl : `${this.#bucketUrl}/${settings.prefix}`;
    this.capabilities = {
      path: false,
      atomicWrite: true,
      atomicMove: false,
      parts: {
        size: settings.chunkSize,
        inFlight: GCS_CHUNKS_IN_FLIGHT,
        minSize: GCS_CHUNK_QUANTUM,
        // No limit on a chunk or on their number; an object is at most 5 TiB.
        maxSize: Number.MAX_SAFE_INTEGER,
        maxCount: Number.MAX_SAFE_INTEGER,
      },
    };
  }

  async info(path: string, options?: RequestOptions): Promise<StorageInfo | undefined> {
    if (path === '') return { name: '', type: 'path', size: 0, mtimeMs: 0 };
    const name = this.#name(path);
    try {
      const response = await this.#request(
        'get info for',
        path,
        (signal) =>
          this.#client.send({ method: 'GET', url: `${this.#objectUrl(name)}?fields=size,updated`, signal }),
        options?.signal,
      );
      const object = JSON.parse(response.body.toString('utf8')) as GcsObject;
      return { name: path, type: 'file', size: Number(object.size ?? 0), mtimeMs: timeOf(object.updated) };
    } catch (error) {
      if (isMissingObject(error)) return undefined;
      throw error;
    }
  }

  /**
   * A delimited, paginated list. Prefixes may come again on later pages (and fake-gcs-server's maxResults
   * limits only the objects when a delimiter is given), so each is yielded once.
   */
  async *list(path: string, options?: { prefix?: string } & RequestOptions): AsyncIterable<StorageInfo> {
    const directory = this.#directoryPrefix(path);
    const seen = new Set<string>();
    for await (const page of this.#pages(
      path,
      `${directory}${options?.prefix ?? ''}`,
      true,
      options?.signal,
    )) {
      for (const common of page.prefixes ?? []) {
        const name = common.slice(directory.length).replace(/\/$/, '');
        if (name === '' || seen.has(name)) continue;
        seen.add(name);
        yield { name, type: 'path', size: 0, mtimeMs: 0 };
      }
      for (const object of page.items ?? []) {
        const name = (object.name ?? '').slice(directory.length);
        // A "folder" placeholder (a name ending in '/', made by the console) is not a file.
        if (name === '' || name.endsWith('/')) continue;
        yield { name, type: 'file', size: Number(object.size ?? 0), mtimeMs: timeOf(object.updated) };
      }
    }
  }

  /** The pages of a list of `prefix` (with the '/' delimiter or without: every object below). */
  async *#pages(
    path: string,
    prefix: string,
    delimited: boolean,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<{ prefixes?: string[]; items?: GcsObject[] }> {
    let token: string | undefined;
    do {
      const query = new URLSearchParams({
        prefix,
        maxResults: String(this.#settings.listPageSize),
        fields: 'items(name,size,updated),prefixes,nextPageToken',
      });
      if (delimited) query.set('delimiter', '/');
      if (token !== undefined) query.set('pageToken', token);
      const response = await this.#request(
        'list',
        path,
        (requestSignal) =>
          this.#client.send({
            method: 'GET',
            url: `${this.#bucketPath()}/o?${query.toString()}`,
            signal: requestSignal,
          }),
        signal,
      );
      const page = JSON.parse(response.body.toString('utf8')) as {
        prefixes?: string[];
        items?: GcsObject[];
        nextPageToken?: string;
      };
      yield page;
      token = page.nextPageToken === '' ? undefined : page.nextPageToken;
    } while (token !== undefined);
  }

  async openRead(path: string, options?: ReadOptions): Promise<Readable | undefined> {
    const name = this.#name(path);
    return openRangedRead(options, {
      url: this.#url(path),
      ioTimeoutMs: this.#settings.ioTimeoutMs,
      signal: options?.signal,
      exists: async () => (await this.info(path, options)) !== undefined,
      get: (offset, limit, generation) => this.#get(path, name, offset, limit, generation, options?.signal),
      version: (response) => {
        const generation = response.headers['x-goog-generation'];
        return typeof generation === 'string' ? generation : undefined;
      },
      bodyStream: (response) => response.stream,
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
   * One download of `name` from `offset` (at most `limit` bytes), retried within io-timeout. `generation` pins the
   * version a resumed read continues (a replaced object fails the read rather than mixing two versions).
   */
  #get(
    path: string,
    name: string,
    offset: number,
    limit: number | undefined,
    generation: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<GcsResponse> {
    const range =
      offset === 0 && limit === undefined
        ? undefined
        : `bytes=${offset}-${limit === undefined ? '' : offset + limit - 1}`;
    const pinned = generation === undefined ? '' : `&generation=${generation}`;
    return this.#request(
      'read',
      path,
      (requestSignal) =>
        this.#client.send({
          method: 'GET',
          url: `${this.#objectUrl(name)}?alt=media${pinned}`,
          headers: range === undefined ? {} : { range },
          stream: true,
          signal: requestSignal,
        }),
      signal,
    );
  }

  async openWrite(path: string, options?: WriteOptions): Promise<Writable> {
    if (path === '') fail('paramInvalid', `unable to write '${this.location}': it is the storage root`);
    const name = this.#name(path);
    return new GcsWriteStream({
      client: this.#client,
      bucket: this.#settings.bucket,
      name,
      url: this.#url(path),
      chunkSize: this.#settings.chunkSize,
      ifAbsent: options?.ifAbsent ?? false,
      signal: options?.signal,
      request: (action, send, signal) =>
        this.#request(action, path, send, signal).catch((error: unknown) => {
          if (options?.ifAbsent === true && isPreconditionFailed(error)) {
            throw new PgStashError('fileExists', `unable to create '${this.#url(path)}': it exists already`, {
              cause: error,
            });
          }
          throw error;
        }),
    });
  }

  async remove(path: string, options?: RequestOptions): Promise<void> {
    if (path === '') fail('paramInvalid', `unable to remove '${this.location}': it is the storage root`);
    await this.#delete(path, this.#name(path), options?.signal);
  }

  /** Deletes one object; a missing one is not an error. */
  async #delete(path: string, name: string, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.#request(
        'remove',
        path,
        (requestSignal) =>
          this.#client.send({ method: 'DELETE', url: this.#objectUrl(name), signal: requestSignal }),
        signal,
      );
    } catch (error) {
      if (!isMissingObject(error)) throw error;
    }
  }

  /**
   * Lists every object below `path` (no delimiter: one request per 1,000 objects) and deletes them,
   * DELETES_IN_FLIGHT at once, as the pages come.
   */
  async removeTree(path: string, options?: RequestOptions): Promise<void> {
    if (path !== '') await this.#delete(path, this.#name(path), options?.signal);
    const signal = options?.signal;
    const pages = this.#pages(path, this.#directoryPrefix(path), false, signal);
    const names = async function* (): AsyncGenerator<string> {
      for await (const page of pages)
        for (const object of page.items ?? []) if (object.name) yield object.name;
    };
    await runParallel(names(), {
      concurrency: DELETES_IN_FLIGHT,
      worker: (name) => this.#delete(path, name, signal),
    });
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
    return translateGcsError(error, {
      action,
      url: this.#url(path),
      endpoint: this.#settings.endpoint,
      repo: this.#settings.repo,
      kind: failureKind(action),
    });
  }

  #bucketPath(): string {
    return `/storage/v1/b/${encodeURIComponent(this.#settings.bucket)}`;
  }

  #objectUrl(name: string): string {
    return `${this.#bucketPath()}/o/${encodeURIComponent(name)}`;
  }

  #url(path: string): string {
    return objectUrl(this.location, path);
  }

  /** The object name of a driver path; rejects paths that could leave the prefix. */
  #name(path: string): string {
    return objectKey(this.#settings.prefix, path);
  }

  /** The name prefix of everything below `path` ('' for the root of a repository at the bucket's root). */
  #directoryPrefix(path: string): string {
    return directoryPrefix(this.#settings.prefix, path);
  }
}

/** An RFC 3339 time of the JSON API in milliseconds since the epoch (0 when absent). */
function timeOf(value: string | undefined): number {
  const ms = value === undefined ? NaN : Date.parse(value);
  return Number.isNaN(ms) ? 0 : ms;
}
