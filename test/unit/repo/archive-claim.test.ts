// Tests for the claim on a WAL file name: created once, confirmed for the same content, refused for another (45),
// exactly one winner among concurrent claims, and a damaged claim file reported as such.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPgStashError } from '../../../src/common/errors.js';
import { claimWalName } from '../../../src/repo/archive-claim.js';
import { walClaimName } from '../../../src/repo/layout.js';
import { Repository } from '../../../src/repo/repository.js';
import { repoOptions } from '../../harness/repository.js';
import { anyRejectionOf } from '../../harness/errors.js';

const WAL = '000000010000000000000003';
const DIR = 'archive/main/15-1/0000000100000000';
const SHA = (char: string): string => char.repeat(64);

let root: string;
let repo: Repository;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'pgstash-claim-'));
  repo = await Repository.openInWorker(repoOptions(root), 'main', undefined);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const claim = (sha256: string, hasData = false): Promise<void> =>
  claimWalName(repo, { dir: DIR, walFileName: WAL, sha256 }, () => Promise.resolve(hasData));

describe('claimWalName', () => {
  it('claims a free name, and confirms it for the same content again', async () => {
    await claim(SHA('a'));
    await claim(SHA('a'));
    expect((await repo.driver.read(`${DIR}/${walClaimName(WAL)}`))?.toString()).toContain(SHA('a'));
  });

  it('refuses another content with 45, saying whether the claimed content is stored', async () => {
    await claim(SHA('a'));
    const stored = await anyRejectionOf(claim(SHA('b'), true));
    expect(isPgStashError(stored, 'archiveDuplicate')).toBe(true);
    expect((stored as Error).message).toBe(
      `WAL file '${WAL}' already exists in the repo1 archive with a different checksum (claimed for ${SHA('a')})`,
    );
    const unfinished = await anyRejectionOf(claim(SHA('b'), false));
    expect((unfinished as Error).message).toContain(`claimed for ${SHA('a')}, whose push has not finished`);
  });

  it('of many concurrent claims with different contents, exactly one wins', async () => {
    const results = await Promise.allSettled('abcdef01'.split('').map((char) => claim(SHA(char))));
    const won = results.filter((result) => result.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const result of results) {
      if (result.status === 'rejected') expect(isPgStashError(result.reason, 'archiveDuplicate')).toBe(true);
    }
  });

  it('a damaged claim file is fileInvalid (28) naming it', async () => {
    await claim(SHA('a'));
    await writeFile(join(root, DIR, walClaimName(WAL)), 'not json');
    const error = await anyRejectionOf(claim(SHA('b')));
    expect(isPgStashError(error, 'fileInvalid')).toBe(true);
    expect((error as Error).message).toContain(`${root}/${DIR}/${walClaimName(WAL)}`);
  });
});
