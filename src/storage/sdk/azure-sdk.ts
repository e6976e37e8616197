// Entry of the Azure Blob SDK's bundle (scripts/bundle.ts, launch/sdk-bundle.ts): the package as it is.
export * from '@azure/storage-blob';
