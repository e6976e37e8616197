// Tests for which files a diff or incr takes from its prior: size and mtime (with the guard for the prior's start
// second), SHA-256 with --delta, after a timeline switch, or for an mtime that went back or is in the future.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { priorReuse } from '../../../../src/command/backup/prior-reuse.js';
import type { DataDirEntry } from '../../../../src/postgres/data-dir.js';
import { fileStorage, type Manifest, type ManifestFile } from '../../../../src/repo/manifest.js';

const dir = mkdtempSync(join(tmpdir(), 'pgstash-prior-reuse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FULL = '20261206-120000F';
const START = 1_800_000_000;
const CONTENT = 'x'.repeat(4096);
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

const priorFile = (name: string, mtime: number, size = CONTENT.length): ManifestFile => ({
  name,
  size,
  mtime,
  sha256: sha(CONTENT),
  mode: 0o600,
  uid: 26,
  gid: 26,
  user: 'postgres',
  group: 'postgres',
  stored: { ...fileStorage(FULL, { type: 'lz4', level: 1 }, false), size: 100 },
});

const prior = {
  backup: { label: FULL, timestampStart: START, timeline: 1 },
  files: [
    priorFile('pg_data/old', START - 60),
    priorFile('pg_data/same-second', START),
    priorFile('pg_data/empty', START + 5, 0),
  ],
} as unknown as Manifest;

function entry(name: string, mtime: number, content = CONTENT): DataDirEntry {
  const absolutePath = join(dir, name.replace(/\//g, '_'));
  writeFileSync(absolutePath, content);
  return { name, type: 'file', absolutePath, size: content.length, mtime, mode: 0o640, uid: 27, gid: 27 };
}

const options = { delta: false, timeline: 1, copyStart: START + 100 };

describe('priorReuse', () => {
  it('takes the prior entry, holder and all, for a file of the same size and mtime, with its own owner', async () => {
    const reused = await priorReuse(prior, options)(entry('pg_data/old', START - 60));
    expect(reused?.stored).toEqual(prior.files[0]?.stored);
    expect(reused).toMatchObject({ mode: 0o640, uid: 27, mtime: START - 60, sha256: sha(CONTENT) });
  });

  it('copies a file whose size or mtime changed, or that the prior saw in its start second', async () => {
    const reuse = priorReuse(prior, options);
    expect(await reuse(entry('pg_data/old', START + 10))).toBeUndefined();
    expect(await reuse(entry('pg_data/old', START - 60, 'y'.repeat(10)))).toBeUndefined();
    expect(await reuse(entry('pg_data/same-second', START))).toBeUndefined();
    expect(await reuse(entry('pg_data/new', START - 60))).toBeUndefined();
    // Empty stays empty whatever its mtime.
    expect((await reuse(entry('pg_data/empty', START + 50, '')))?.stored.holder).toBe(FULL);
  });

  it('with delta, compares content: a touched file is reused, a changed one with the old mtime copied', async () => {
    const reuse = priorReuse(prior, { ...options, delta: true });
    expect((await reuse(entry('pg_data/old', START + 10)))?.mtime).toBe(START + 10);
    expect(await reuse(entry('pg_data/old', START - 60, 'z'.repeat(CONTENT.length)))).toBeUndefined();
    // The same second is no concern once the content is compared.
    expect(await reuse(entry('pg_data/same-second', START))).toBeDefined();
  });

  it('hashes instead of trusting mtimes after a timeline switch, for an mtime gone back or in the future', async () => {
    const changed = 'z'.repeat(CONTENT.length);
    expect(
      await priorReuse(prior, { ...options, timeline: 2 })(entry('pg_data/old', START - 60, changed)),
    ).toBeUndefined();
    const reuse = priorReuse(prior, options);
    expect(await reuse(entry('pg_data/old', START - 61))).toBeDefined();
    expect(await reuse(entry('pg_data/old', START - 61, changed))).toBeUndefined();
    expect(await reuse(entry('pg_data/old', START + 500, changed))).toBeUndefined();
  });
});
