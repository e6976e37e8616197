// Tests for openStorage: driver selection by repository type and the repository path check.
import { rejectionOf } from '../../harness/errors.js';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openStorage } from '../../../src/storage/index.js';
import { PosixDriver } from '../../../src/storage/posix.js';

let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'pgstash-open-storage-'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('openStorage', () => {
  it('opens a posix repository', async () => {
    const driver = await openStorage({ type: 'posix', path: base }, { mustExist: true });
    expect(driver).toBeInstanceOf(PosixDriver);
    expect(driver.location).toBe(base);
    expect(driver.capabilities).toEqual({ path: true, atomicWrite: true, atomicMove: true });
  });

  it('accepts a missing posix path unless it must exist', async () => {
    const path = join(base, 'not-yet');
    const driver = await openStorage({ type: 'posix', path });
    expect(driver.location).toBe(path);
    const error = await rejectionOf(openStorage({ type: 'posix', path }, { mustExist: true }));
    expect(error.code).toBe(73);
    expect(error.message).toBe(`repository path '${path}' does not exist`);
    expect(error.hint).toContain('stanza-create');
  });

  it('follows a symlinked repository path', async () => {
    const link = join(base, 'link');
    await symlink(base, link);
    expect((await openStorage({ type: 'posix', path: link }, { mustExist: true })).location).toBe(link);
  });

  it('rejects a repository path that is a file, whether or not it must exist', async () => {
    const file = join(base, 'file');
    await writeFile(file, 'not a directory');
    const error = await rejectionOf(openStorage({ type: 'posix', path: file }));
    expect(error.kind).toBe('pathMissing');
    expect(error.message).toBe(`repository path '${file}' is not a directory`);
    expect((await rejectionOf(openStorage({ type: 'posix', path: join(file, 'below') }))).kind).toBe(
      'pathMissing',
    );
  });

  it('rejects a relative posix path', async () => {
    expect((await rejectionOf(openStorage({ type: 'posix', path: 'relative' }))).kind).toBe('paramInvalid');
  });

  it('fails with optionRequired naming the first missing s3 option, before any request', async () => {
    const error = await rejectionOf(openStorage({ type: 's3', path: '/repo', index: 2 }));
    expect(error.code).toBe(37);
    expect(error.message).toBe('repo2-s3-bucket option required');
  });

  it('fails with optionRequired naming the first missing gcs option, before any request', async () => {
    const error = await rejectionOf(openStorage({ type: 'gcs', path: '/repo', index: 2 }));
    expect(error.code).toBe(37);
    expect(error.message).toBe('repo2-gcs-bucket option required');
  });

  it('fails with optionRequired naming the first missing azure option, before any request', async () => {
    const error = await rejectionOf(openStorage({ type: 'azure', path: '/repo', index: 2 }));
    expect(error.code).toBe(37);
    expect(error.message).toBe('repo2-azure-account option required');
  });

  it.each([
    [{ azureContainer: 'Bad_Name' }, "'Bad_Name' is not valid for 'repo1-azure-container' option"],
    [{ azureAccount: 'My-Account' }, "'My-Account' is not valid for 'repo1-azure-account' option"],
    [
      { azureEndpoint: 'https://blob.example' },
      "'https://blob.example' is not valid for 'repo1-azure-endpoint' option",
    ],
    [
      { storageUploadChunkSize: 4001 * 1024 * 1024 },
      "'4195352576' is not valid for 'repo1-storage-upload-chunk-size' option",
    ],
    [
      { azureKeyType: 'sas' as const, azureKey: 'sv=2025&sp=r' },
      "repo1-azure-key is not a SAS token (no 'sig=' parameter)",
    ],
  ])('refuses an invalid azure option before any request: %o', async (overrides, message) => {
    const options = {
      type: 'azure',
      path: '/repo',
      ioTimeout: 60,
      azureAccount: 'account',
      azureContainer: 'container',
      azureEndpoint: 'blob.core.windows.net',
      azureKey: 'a2V5',
      storagePort: 443,
      storageUploadChunkSize: 5 * 1024 * 1024,
    };
    const error = await rejectionOf(openStorage({ ...options, ...overrides }));
    expect(error.code).toBe(32);
    expect(error.message).toBe(message);
  });

  it.each(['ftp', 'swift'])('fails with featureNotSupported for type %s', async (type) => {
    const error = await rejectionOf(openStorage({ type, path: '/repo' }));
    expect(error.code).toBe(67);
    expect(error.message).toBe(`repository type '${type}' is not supported`);
  });
});
