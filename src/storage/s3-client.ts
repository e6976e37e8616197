// The S3 client of a repository: endpoint, addressing style, TLS trust and credentials from the repoN-s3-* options.
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

import { fail } from '../common/errors.js';
import { endpointHostPort, required } from './endpoint.js';
import { storageAgent } from './https-agent.js';

/** The repoN options an S3 repository reads (field names as in RepoOptions). */
export interface S3RepoOptions {
  readonly index?: number;
  readonly path: string;
  readonly ioTimeout?: number | undefined;
  readonly s3Bucket?: string | undefined;
  readonly s3Endpoint?: string | undefined;
  readonly s3Region?: string | undefined;
  readonly s3UriStyle?: 'host' | 'path' | undefined;
  readonly s3KeyType?: 'shared' | 'auto' | 'web-id' | undefined;
  readonly s3Key?: string | undefined;
  readonly s3KeySecret?: string | undefined;
  readonly s3Token?: string | undefined;
  readonly s3KmsKeyId?: string | undefined;
  readonly storagePort?: number | undefined;
  readonly storageVerifyTls?: boolean | undefined;
  readonly storageCaFile?: string | undefined;
  readonly storageCaPath?: string | undefined;
  readonly storageUploadChunkSize?: number | undefined;
}

export interface S3Settings {
  readonly repo: string;
  readonly bucket: string;
  /** Key prefix of the repository inside the bucket: repoN-path without its leading '/', '' for the root. */
  readonly prefix: string;
  /** https://host:port of the service, without the bucket. */
  readonly endpoint: string;
  readonly pathStyle: boolean;
  readonly ioTimeoutMs: number;
  readonly partSize: number;
  readonly kmsKeyId: string | undefined;
  /** The bucket's URL, for messages: https://host:port/bucket or https://bucket.host:port. */
  readonly bucketUrl: string;
}

/** Reads and checks the options; fails with the option's name when one is missing or invalid. */
export function s3Settings(options: S3RepoOptions): S3Settings {
  const repo = `repo${options.index ?? 1}`;
  const bucket = required(options.s3Bucket, `${repo}-s3-bucket`);
  const hostPort = endpointHostPort(
    required(options.s3Endpoint, `${repo}-s3-endpoint`),
    required(options.storagePort, `${repo}-storage-port`),
    `${repo}-s3-endpoint`,
  );
  const pathStyle = (options.s3UriStyle ?? 'host') === 'path';
  const prefix = options.path.replace(/^\/+|\/+$/g, '');
  return {
    repo,
    bucket,
    prefix,
    endpoint: `https://${hostPort}`,
    pathStyle,
    ioTimeoutMs: required(options.ioTimeout, 'io-timeout') * 1000,
    partSize: required(options.storageUploadChunkSize, `${repo}-storage-upload-chunk-size`),
    kmsKeyId: options.s3KmsKeyId,
    bucketUrl: pathStyle ? `https://${hostPort}/${bucket}` : `https://${bucket}.${hostPort}`,
  };
}

function credentialsOf(options: S3RepoOptions, repo: string): S3ClientConfig['credentials'] {
  const type = options.s3KeyType ?? 'shared';
  if (type === 'shared') {
    return {
      accessKeyId: required(options.s3Key, `${repo}-s3-key`),
      secretAccessKey: required(options.s3KeySecret, `${repo}-s3-key-secret`),
      ...(options.s3Token === undefined ? {} : { sessionToken: options.s3Token }),
    };
  }
  if (type === 'web-id') {
    for (const name of ['AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE']) {
      if ((process.env[name] ?? '') === '') {
        fail('optionInvalidValue', `${repo}-s3-key-type is 'web-id' but ${name} is not set`, {
          hint: 'web-id takes the role and token file from the environment (as Kubernetes IRSA sets them)',
        });
      }
    }
  }
  // auto and web-id: the SDK's default chain (environment, web identity token, config files, container role,
  // instance metadata).
  return undefined;
}

/** The client: no SDK retries (withRetry does them, within io-timeout), HTTPS with the repository's trust. */
export function createS3Client(options: S3RepoOptions, settings: S3Settings): S3Client {
  // The SDK warns on every start under Node 20 (its own support policy), which would print into PostgreSQL's log
  // at each archive-push; pgstash states its supported runtimes itself (README, package.json engines).
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const agent = storageAgent(options, settings.repo);
  const credentials = credentialsOf(options, settings.repo);
  return new S3Client({
    region: required(options.s3Region, `${settings.repo}-s3-region`),
    endpoint: settings.endpoint,
    forcePathStyle: settings.pathStyle,
    maxAttempts: 1,
    // The SDK checks a CRC32 of every object it downloads when the store sent one, in JavaScript (@aws-crypto/crc32):
    // 180 ms of CPU in a restore of 87 MB stored (pgbench scale 50, lz4), for nothing, since every byte pgstash reads
    // is checked against the SHA-256 it recorded. Uploads keep the SDK's CRC32 (node:zlib's, a few ms): it lets the
    // store refuse a body damaged on the way, before a backup counts it as stored.
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(credentials === undefined ? {} : { credentials }),
    requestHandler: {
      httpsAgent: agent,
      connectionTimeout: settings.ioTimeoutMs,
      requestTimeout: settings.ioTimeoutMs,
      // Without it, a request past requestTimeout only logs a warning and goes on waiting.
      throwOnRequestTimeout: true,
    },
  });
}

/** The SDK's per-request options for a signal that may be undefined. */
export function abortable(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal === undefined ? {} : { abortSignal: signal };
}
