// Runs the storage conformance suite against the Azure Blob driver on Azurite, over TLS.
import { afterAll, beforeAll, describe } from 'vitest';

import { openAzureStorage } from '../../src/storage/azure.js';
import { azureServerAvailable, startAzureServer, type AzureTestServer } from '../harness/azure-server.js';
import { defineDriverSuite } from './driver-suite.js';

describe.skipIf(!azureServerAvailable())('azure on Azurite', () => {
  let server: AzureTestServer;
  let container: string;
  let count = 0;

  beforeAll(async () => {
    server = await startAzureServer();
    container = await server.createContainer('conformance');
  });

  afterAll(async () => {
    await server?.stop();
  });

  // Each test gets its own prefix in the container: a fresh, empty repository root.
  defineDriverSuite('azure (Azurite)', async () => {
    const driver = openAzureStorage(server.repoOptions(container, { path: `/test-${++count}` }));
    return { driver, cleanup: () => driver.removeTree('') };
  });
});
