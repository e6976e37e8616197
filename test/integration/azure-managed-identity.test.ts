// repoN-azure-key-type=auto: the Azure driver and the CLI authenticate with the host's managed identity, against
// Azurite taking bearer tokens (--oauth basic) and a token endpoint speaking App Service's managed-identity protocol
// (test/harness/managed-identity.ts), found as a real host's is: IDENTITY_ENDPOINT and IDENTITY_HEADER.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { isPgStashError } from '../../src/common/errors.js';
import { openAzureStorage } from '../../src/storage/azure.js';
import { azureServerAvailable, startAzureServer, type AzureTestServer } from '../harness/azure-server.js';
import { rejectionOf } from '../harness/errors.js';
import { startManagedIdentityEndpoint, type ManagedIdentityEndpoint } from '../harness/managed-identity.js';
import { runPgstash } from '../harness/pgstash.js';
import { createTempDir, removeTempDir } from '../harness/tmp.js';

describe.skipIf(!azureServerAvailable())(
  'azure key-type auto (managed identity) on Azurite with OAuth',
  () => {
    let server: AzureTestServer;
    let identity: ManagedIdentityEndpoint;
    let container: string;
    let dir: string;
    let count = 0;
    const saved: Record<string, string | undefined> = {};

    /** A driver of a fresh prefix authenticating with the managed identity (no key). */
    const driver = () => {
      const { azureKey: _key, ...options } = server.repoOptions(container, {
        path: `/m${++count}`,
        azureKeyType: 'auto',
        ioTimeout: 5,
      });
      return openAzureStorage(options);
    };

    beforeAll(async () => {
      server = await startAzureServer({ oauth: true });
      container = await server.createContainer('managed-identity');
      identity = await startManagedIdentityEndpoint();
      // The driver runs in this process: it finds the endpoint as on a host, in the environment.
      for (const [name, value] of Object.entries(identity.env)) {
        saved[name] = process.env[name];
        process.env[name] = value;
      }
      dir = await createTempDir({ owner: 'root', label: 'azure-identity' });
    });

    afterEach(() => {
      identity?.failWith(undefined);
    });

    afterAll(async () => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await identity?.stop();
      await server?.stop();
      if (dir !== undefined) await removeTempDir(dir);
    });

    // First: @azure/identity keeps a token for the process once it has one.
    it('fails with one line naming the URL when the identity endpoint refuses a token', async () => {
      const azure = driver();
      identity.failWith(400);
      const error = await rejectionOf(azure.info('file'));
      expect(isPgStashError(error, 'access')).toBe(true);
      expect(error.temporary).toBe(false);
      expect(error.hint).toContain('repo1-azure-key-type');
      // Refused once: not retried until io-timeout.
      expect(identity.requests).toHaveLength(1);
      expect(error.message).toMatch(/^unable to get info for 'https:\/\/127\.0\.0\.1:\d+\/.*\/file': /);
      expect(error.message).not.toContain('\n');
    });

    it('writes, lists, reads and removes with a token of the identity endpoint, asked for storage', async () => {
      const azure = driver();
      const before = identity.requests.length;
      const data = randomBytes(300_000);
      await pipeline(Readable.from([data]), await azure.openWrite('dir/file'));
      const listed: string[] = [];
      for await (const entry of azure.list('dir')) listed.push(entry.name);
      expect(listed).toEqual(['file']);
      expect((await azure.read('dir/file'))?.equals(data)).toBe(true);
      await azure.removeTree('dir');
      expect(await azure.info('dir/file')).toBeUndefined();
      // One token, reused: asked for the storage resource, with the endpoint's secret header.
      expect(identity.requests.slice(before)).toEqual(['https://storage.azure.com']);
    });

    it('runs info with key-type auto and no key, its token from the identity endpoint', async () => {
      const env = { ...identity.env, ...server.cliEnv(container, dir, { auto: true }) };
      const before = identity.requests.length;
      const info = await runPgstash(['info', '--stanza=main', '--output=json'], { env });
      expect(info.code, info.stderr).toBe(0);
      expect(info.stdout).toContain('missing stanza path');
      expect(identity.requests.slice(before)).toEqual(['https://storage.azure.com']);
    });
  },
);
