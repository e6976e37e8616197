// Entry of the S3 SDK's bundle (scripts/bundle.ts, launch/sdk-bundle.ts): the package as it is.
export * from '@aws-sdk/client-s3';
