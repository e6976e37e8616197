// Runs the storage conformance suite against the Azure Blob driver on Azurite, over TLS.
import { openAzureStorage } from '../../src/storage/azure.js';
import { azureServerAvailable, startAzureServer } from '../harness/azure-server.js';
import { defineObjectStoreSuite } from './object-store-suite.js';

defineObjectStoreSuite('azure (Azurite)', {
  available: azureServerAvailable(),
  start: startAzureServer,
  makeBucket: (server) => server.createContainer('conformance'),
  openDriver: (server, bucket, path) => openAzureStorage(server.repoOptions(bucket, { path })),
});
