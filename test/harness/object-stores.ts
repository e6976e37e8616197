// The stores a test can run a repository on (S3 on versitygw, Azure Blob on Azurite, GCS on fake-gcs-server, and a
// posix directory beside them), behind one "store under test" shape: start the server, make a bucket, the repo1-*
// lines, list and read the objects behind the driver.
import { chown, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

import { GetObjectCommand } from '@aws-sdk/client-s3';

import { azureServerAvailable, startAzureServer } from './azure-server.js';
import { gcsServerAvailable, startGcsServer, writeServiceAccountKey } from './gcs-server.js';
import { postgresIds } from './postgres-user.js';
import { s3KeysUnder, s3RepoLines, s3ServerAvailable, startS3Server } from './s3-server.js';
import { createTempDir, removeTempDir } from './tmp.js';

/** A started server with one bucket (container) made for the test. */
export interface OpenStore {
  /** The repo1-* lines of a repository under /pgstash in the bucket. */
  readonly repoOptions: Readonly<Record<string, string>>;
  /** What `info` prints as the repository's location. */
  readonly location: string;
  /** Every key under `prefix` in the bucket. */
  keysUnder(prefix: string): Promise<string[]>;
  /** The stored bytes of `key`. */
  read(key: string): Promise<Buffer>;
  /** Stops the server and removes what was made for it. */
  stop(): Promise<void>;
}

/** One store (and way of signing in) a parametrized test runs on. */
export interface StoreUnderTest {
  /** For the test's title, e.g. 'GCS (fake-gcs-server, service account key file)'. */
  readonly title: string;
  /** Whether its server is installed (under CI=true a missing one throws, so the suite fails, never skips). */
  available(): boolean;
  /** Starts the server and makes a bucket named after `label`. */
  open(label: string): Promise<OpenStore>;
}

/** A posix repository in a fresh directory of the postgres user: its "keys" are the paths under the directory. */
export const posixDirectory: StoreUnderTest = {
  title: 'posix',
  available: () => true,
  async open(label) {
    const dir = await createTempDir({ owner: 'postgres', label });
    return {
      repoOptions: { 'repo1-path': join(dir, 'pgstash') },
      location: join(dir, 'pgstash'),
      async keysUnder(prefix) {
        const entries = await readdir(join(dir, prefix), { recursive: true, withFileTypes: true }).catch(
          () => [],
        );
        return entries
          .filter((entry) => entry.isFile())
          .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
      },
      read: (key) => readFile(join(dir, key)),
      stop: () => removeTempDir(dir),
    };
  },
};

export const s3Versitygw: StoreUnderTest = {
  title: 'S3 (versitygw)',
  available: () => s3ServerAvailable('versitygw'),
  async open(label) {
    const server = await startS3Server('versitygw');
    try {
      const bucket = await server.createBucket(label);
      return {
        repoOptions: s3RepoLines(server, bucket),
        location: `https://${server.endpoint}/`,
        keysUnder: (prefix) => s3KeysUnder(server, bucket, prefix),
        async read(key) {
          const object = await server.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
          return Buffer.from((await object.Body?.transformToByteArray()) ?? []);
        },
        stop: () => server.stop(),
      };
    } catch (error) {
      await server.stop();
      throw error;
    }
  },
};

export const azurite: StoreUnderTest = {
  title: 'Azure Blob (Azurite)',
  available: () => azureServerAvailable(),
  async open(label) {
    const server = await startAzureServer();
    try {
      const container = await server.createContainer(label);
      const client = server.service.getContainerClient(container);
      return {
        repoOptions: {
          'repo1-type': 'azure',
          'repo1-path': '/pgstash',
          'repo1-azure-account': server.account,
          'repo1-azure-container': container,
          'repo1-azure-endpoint': server.endpoint,
          'repo1-azure-uri-style': 'path',
          'repo1-azure-key': server.key,
          'repo1-storage-ca-file': server.caFile,
        },
        location: `https://${server.endpoint}/${server.account}/${container}/pgstash`,
        async keysUnder(prefix) {
          const names: string[] = [];
          for await (const blob of client.listBlobsFlat({ prefix })) names.push(blob.name);
          return names;
        },
        read: (key) => client.getBlobClient(key).downloadToBuffer(),
        stop: () => server.stop(),
      };
    } catch (error) {
      await server.stop();
      throw error;
    }
  },
};

/** GCS signed in with an OAuth token ('token') or a service account key file ('service'). */
export function fakeGcs(keyType: 'token' | 'service'): StoreUnderTest {
  return {
    title: `GCS (fake-gcs-server, key type ${keyType})`,
    available: () => gcsServerAvailable(),
    async open(label) {
      const server = await startGcsServer();
      const keyDir = await createTempDir({ owner: 'postgres', label: 'gcs-key' });
      const stop = async (): Promise<void> => {
        await server.stop();
        await removeTempDir(keyDir);
      };
      try {
        const bucket = await server.createBucket(label);
        const key =
          keyType === 'service' ? await writeServiceAccountKeyOfPostgres(keyDir) : 'pgstash-test-token';
        return {
          repoOptions: {
            'repo1-type': 'gcs',
            'repo1-path': '/pgstash',
            'repo1-gcs-bucket': bucket,
            'repo1-gcs-endpoint': server.endpoint,
            'repo1-gcs-key-type': keyType,
            'repo1-gcs-key': key,
          },
          location: `gs://${bucket}/pgstash`,
          keysUnder: (prefix) => server.objectNames(bucket, prefix),
          read: (key) =>
            fetch(`${server.endpoint}/storage/v1/b/${bucket}/o/${encodeURIComponent(key)}?alt=media`).then(
              async (response) => Buffer.from(await response.arrayBuffer()),
            ),
          stop,
        };
      } catch (error) {
        await stop();
        throw error;
      }
    },
  };
}

/** A fresh service account key file in `dir`, the postgres user's (archive_command runs as it), readable by it alone. */
async function writeServiceAccountKeyOfPostgres(dir: string): Promise<string> {
  const file = join(dir, 'service.json');
  await writeServiceAccountKey(file);
  const { uid, gid } = postgresIds();
  await chown(file, uid, gid);
  return file;
}
