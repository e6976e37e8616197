// A write to S3 as the requests part-write.ts sends: one PutObject for a file up to a part, else a multipart upload.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

import { PgStashError } from '../common/errors.js';
import type { PartUpload } from './part-write.js';
import { abortable } from './s3-client.js';

/** S3's limits on multipart uploads. */
export const S3_PART_LIMITS = { minSize: 5 * 1024 * 1024, maxSize: 5 * 1024 * 1024 * 1024, maxCount: 10_000 };
/** Parts of one file uploading at once. */
export const PARTS_IN_FLIGHT = 4;

export interface S3WriteTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** For messages. */
  readonly url: string;
  readonly ifAbsent: boolean;
  readonly kmsKeyId: string | undefined;
  /** Runs one request with the driver's retries and error translation; `signal` cancels it and its retries. */
  readonly request: <T>(
    action: string,
    send: (signal: AbortSignal | undefined) => Promise<T>,
    signal: AbortSignal | undefined,
  ) => Promise<T>;
}

/**
 * The S3 requests of one write (PartWriteStream does the buffering): the multipart upload starts with the first
 * part and completes with the parts' ETags; a write that will not complete aborts it, so that no billed parts stay
 * (only a process killed mid-upload leaves parts: the bucket's AbortIncompleteMultipartUpload rule removes them).
 */
export function s3PartUpload(target: S3WriteTarget): PartUpload {
  const { client, bucket, key, url } = target;
  const condition = target.ifAbsent ? { IfNoneMatch: '*' } : {};
  const encryption: { ServerSideEncryption?: 'aws:kms'; SSEKMSKeyId?: string } =
    target.kmsKeyId === undefined ? {} : { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: target.kmsKeyId };
  let uploadId: Promise<string> | undefined;
  /** CreateMultipartUpload was sent more than once: an earlier one may have started an upload whose answer was lost. */
  let createRepeated = false;
  const parts: { PartNumber: number; ETag: string }[] = [];

  const createUpload = (signal: AbortSignal): Promise<string> => {
    let sent = 0;
    return target
      .request(
        'write',
        (signal) => {
          if (++sent > 1) createRepeated = true;
          return client.send(
            new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...encryption }),
            abortable(signal),
          );
        },
        signal,
      )
      .then((result) => {
        if (result.UploadId === undefined)
          throw new PgStashError('service', `unable to write '${url}': no upload id returned`);
        return result.UploadId;
      });
  };

  const abortUpload = (id: string): Promise<unknown> =>
    target.request(
      'abort the upload of',
      (signal) =>
        client.send(
          new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }),
          abortable(signal),
        ),
      undefined,
    );

  /**
   * Aborts the other multipart uploads of this key: after a CreateMultipartUpload whose answer was lost (a reset,
   * a timeout) and was sent again, the service may hold an upload nobody will complete, billed until the bucket's
   * lifecycle rule removes it. One writer writes a key at a time (the stanza lock, a WAL file's content-named key),
   * so another upload of the key is such a stray. Best effort: the write itself has succeeded or failed already.
   */
  const abortStrayUploads = async (ours: string | undefined): Promise<void> => {
    try {
      const listed = await target.request(
        'list the uploads of',
        (signal) =>
          client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }), abortable(signal)),
        undefined,
      );
      for (const upload of listed.Uploads ?? []) {
        if (upload.Key !== key || upload.UploadId === undefined || upload.UploadId === ours) continue;
        await abortUpload(upload.UploadId);
      }
    } catch {
      // Left to the bucket's AbortIncompleteMultipartUpload rule, as after a kill.
    }
  };

  return {
    putWhole: async (body, signal) => {
      await target.request(
        'write',
        (signal) =>
          client.send(
            new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...condition, ...encryption }),
            abortable(signal),
          ),
        signal,
      );
    },
    putPart: async (number, body, signal) => {
      uploadId ??= createUpload(signal);
      const id = await uploadId;
      const result = await target.request(
        'write',
        (signal) =>
          client.send(
            new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: number, Body: body }),
            abortable(signal),
          ),
        signal,
      );
      if (result.ETag === undefined)
        throw new PgStashError('service', `unable to write '${url}': part ${number} has no ETag`);
      parts.push({ PartNumber: number, ETag: result.ETag });
    },
    complete: async (_count, signal) => {
      const id = await (uploadId as Promise<string>);
      const sorted = [...parts].sort((a, b) => a.PartNumber - b.PartNumber);
      await target.request(
        'write',
        (signal) =>
          client.send(
            new CompleteMultipartUploadCommand({
              Bucket: bucket,
              Key: key,
              UploadId: id,
              MultipartUpload: { Parts: sorted },
              ...condition,
            }),
            abortable(signal),
          ),
        signal,
      );
      if (createRepeated) await abortStrayUploads(id);
    },
    // Not cancellable by the caller's signal: an abandoned upload would stay billed.
    abandon: async () => {
      if (uploadId === undefined) return;
      const id = await uploadId.catch(() => undefined);
      if (id !== undefined) await abortUpload(id).catch(() => undefined);
      if (createRepeated) await abortStrayUploads(id);
    },
  };
}
