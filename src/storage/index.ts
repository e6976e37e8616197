// Opens the storage driver for a repository: the one place that maps a repository type to its driver module.
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';

import { errnoOf, fail, reasonOf } from '../common/errors.js';
import { ownerToKeep, type FileOwner } from '../common/os-users.js';
import type { Driver } from './driver.js';
import type { AzureRepoOptions } from './azure-client.js';
import type { GcsRepoOptions } from './gcs-client.js';
import type { S3RepoOptions } from './s3-client.js';

/**
 * Where a repository lives: its type (repo-type) and path (repo-path), with the options of its type (a RepoOptions
 * record has them all).
 */
export interface RepoLocation extends S3RepoOptions, AzureRepoOptions, GcsRepoOptions {
  readonly type: string;
}

export interface OpenStorageOptions {
  /**
   * Fail with pathMissing (73) when the repository path does not exist. Commands that only read the repository
   * (info, archive-get, restore, verify) ask for this; commands that create it (stanza-create, and writes in
   * general, which create missing directories) do not, so a missing path is not an error by default. A path that
   * exists but is not a directory is always an error.
   */
  readonly mustExist?: boolean;
  /** Blocking file calls (see file-io.ts; drivers without files ignore it). */
  readonly blocking?: boolean;
}

/**
 * Returns the driver for `repo`. Driver modules are imported lazily so that a command pays only for the driver
 * it uses (cloud SDKs cost 50-150 ms to load, which matters to archive-push and archive-get).
 *
 * Any type other than 'posix', 's3', 'azure' and 'gcs' fails with featureNotSupported (67).
 */
export async function openStorage(repo: RepoLocation, options?: OpenStorageOptions): Promise<Driver> {
  switch (repo.type) {
    case 'posix': {
      const { PosixDriver, posixLocation } = await import('./posix.js');
      const location = posixLocation(repo.path);
      const found = await checkPosixPath(location, options?.mustExist ?? false);
      // Run as root (a backup from root's crontab, an archive-push by hand) in a repository another user owns, what
      // pgstash creates there is that user's.
      const owner = found === undefined ? undefined : ownerToKeep(found);
      return new PosixDriver(location, {
        blocking: options?.blocking ?? false,
        ...(owner === undefined ? {} : { owner }),
      });
    }
    case 's3': {
      // The AWS SDK loads here, and only here: a posix repository never pays for it.
      const { openS3Storage } = await import('./s3.js');
      return openS3Storage(repo);
    }
    case 'azure': {
      // The Azure SDK loads here, and only here.
      const { openAzureStorage } = await import('./azure.js');
      return openAzureStorage(repo);
    }
    case 'gcs': {
      // Likewise the GCS driver (and google-auth-library, for application default credentials).
      const { openGcsStorage } = await import('./gcs.js');
      return openGcsStorage(repo);
    }
    default:
      return fail('featureNotSupported', `repository type '${repo.type}' is not supported`, {
        hint: "use repo-type 'posix', 's3', 'azure' or 'gcs'",
      });
  }
}

/** The repository directory's owner when it exists (undefined when it does not and need not). */
async function checkPosixPath(path: string, mustExist: boolean): Promise<FileOwner | undefined> {
  let found: Stats;
  try {
    // stat, not lstat: a repository path may well be a symlink to another disk.
    found = await stat(path);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT') {
      if (!mustExist) return undefined;
      fail('pathMissing', `repository path '${path}' does not exist`, {
        hint: 'check repo-path, or run stanza-create to create the repository',
      });
    }
    if (code === 'ENOTDIR')
      fail('pathMissing', `repository path '${path}' does not exist: a parent is a file`);
    return fail('fileOpen', `unable to open repository path '${path}': ${reasonOf(error)}`, { cause: error });
  }
  if (!found.isDirectory()) fail('pathMissing', `repository path '${path}' is not a directory`);
  return { uid: found.uid, gid: found.gid };
}
