// Tests for checkRepoOutsideData: a repository at or inside pg1-path is refused, links resolved, neighbours allowed.
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkRepoOutsideData } from '../../../src/command/repo-placement.js';
import { isPgStashError } from '../../../src/common/errors.js';
import type { RepoOptions } from '../../../src/config/load.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';
import { repoOptions } from '../../harness/repository.js';

let root: string;
let data: string;

beforeEach(async () => {
  root = await createTempDir({ label: 'placement' });
  data = join(root, 'data');
  await mkdir(data);
});

afterEach(async () => {
  await removeTempDir(root);
});

function repos(...paths: string[]): RepoOptions[] {
  return paths.map((path, i) => repoOptions(path, { index: i + 1 }));
}

async function refusal(paths: string[], pgPath = data): Promise<string | undefined> {
  return checkRepoOutsideData(repos(...paths), pgPath).then(
    () => undefined,
    (error: unknown) => {
      expect(isPgStashError(error, 'optionInvalidValue')).toBe(true);
      return (error as Error).message;
    },
  );
}

describe('checkRepoOutsideData', () => {
  it('refuses the data directory itself and any path inside it, existing or not', async () => {
    expect(await refusal([data])).toBe(
      `repo1-path '${data}' is inside pg1-path '${data}': each backup would copy the repository into itself`,
    );
    expect(await refusal([join(root, 'elsewhere'), join(data, 'backups', 'repo')])).toMatch(/^repo2-path '/);
    expect(await refusal([join(root, 'data', '..', 'data', 'x')])).toMatch(/^repo1-path '/);
  });

  it('resolves links on either side', async () => {
    await symlink(join(data, 'inside'), join(root, 'link-to-inside'));
    expect(await refusal([join(root, 'link-to-inside')])).toMatch(/is inside pg1-path/);
    await symlink(data, join(root, 'data-link'));
    expect(await refusal([join(data, 'repo')], join(root, 'data-link'))).toMatch(/is inside pg1-path/);
  });

  it('allows a neighbour, even one whose name starts like the data directory', async () => {
    expect(await refusal([join(root, 'data2'), join(root, 'repo')])).toBeUndefined();
  });
});

describe('checkRepoOutsideData with an object store', () => {
  it('ignores an s3 repository: its repo-path is a prefix in a bucket, whatever it is called on this host', async () => {
    const s3 = repoOptions(data, { type: 's3' });
    await expect(checkRepoOutsideData([s3], data)).resolves.toBeUndefined();
    expect(await refusal([data])).toMatch(/is inside pg1-path/);
  });
});
