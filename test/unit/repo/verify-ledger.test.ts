// verify's ledger through the repository model: written in path order and put in force only by commit, read forward,
// many entries streamed (with and without the stored bytes' record), a discarded one leaves the previous in force, a
// damaged one is reported at close, encrypted with the stanza.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerCursor, LedgerWriter, type LedgerEntry } from '../../../src/repo/verify-ledger.js';
import { emptyStanza } from '../../harness/repository.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';

const entry = (n: number): LedgerEntry => ({
  path: `backup/main/20261206-170000F/pg_data/base/1/${String(n).padStart(6, '0')}.zst`,
  size: n,
  mtimeMs: 1_796_000_000_000 + n,
  sha256: n.toString(16).padStart(64, '0'),
  // Odd entries as a verify that decoded the file writes them (its stored bytes' SHA-256 and original size), even ones
  // as older ledgers hold them: both read back.
  ...(n % 2 === 1 ? { stored: { sha256: (n * 7).toString(16).padStart(64, 'a'), size: n * 8 } } : {}),
});

describe('verify ledger', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await createTempDir({ label: 'verify-ledger' });
  });

  afterAll(async () => {
    await removeTempDir(dir);
  });

  async function ledgerFiles(root: string): Promise<string[]> {
    return (await readdir(join(root, 'backup', 'main')))
      .filter((name) => name.startsWith('verify.ledger'))
      .sort();
  }

  it('none before a verify passed; then 20000 entries read back forward, out of order ones left out', async () => {
    const root = join(dir, 'plain');
    const repo = await emptyStanza(root);
    expect(await LedgerCursor.open(repo)).toBeUndefined();
    const writer = new LedgerWriter(repo);
    for (let n = 0; n < 20_000; n++) await writer.add(entry(n));
    await writer.add(entry(5)); // out of order: left out
    expect(await writer.commit()).toBe(true);
    const cursor = (await LedgerCursor.open(repo)) as LedgerCursor;
    expect(await cursor.lookup(entry(3).path)).toEqual(entry(3));
    expect(await cursor.lookup(`${entry(3).path}x`)).toBeUndefined();
    expect(await cursor.lookup(entry(19_999).path)).toEqual(entry(19_999));
    // Asked again out of order: not found (the file would be read again, never trusted wrongly).
    expect(await cursor.lookup(entry(10).path)).toBeUndefined();
    expect(await cursor.close()).toBeUndefined();
    expect(await ledgerFiles(root)).toHaveLength(3); // pointer, its copy, the lines
  });

  it('a discarded ledger leaves the previous in force; a new commit removes the old lines', async () => {
    const root = join(dir, 'replace');
    const repo = await emptyStanza(root);
    const first = new LedgerWriter(repo);
    await first.add(entry(1));
    await first.commit();
    const before = await ledgerFiles(root);
    const dropped = new LedgerWriter(repo);
    await dropped.add(entry(2));
    await dropped.discard();
    expect(await ledgerFiles(root)).toEqual(before);
    expect(await (await LedgerCursor.open(repo))?.lookup(entry(1).path)).toEqual(entry(1));
    const second = new LedgerWriter(repo);
    await second.add(entry(2));
    await second.commit();
    const after = await ledgerFiles(root);
    expect(after).toHaveLength(3);
    expect(after.filter((name) => !before.includes(name))).toHaveLength(1);
    const cursor = (await LedgerCursor.open(repo)) as LedgerCursor;
    expect(await cursor.lookup(entry(1).path)).toBeUndefined();
    expect(await cursor.lookup(entry(2).path)).toEqual(entry(2));
  });

  it('damaged lines are reported at close (checksum 26); encrypted lines hold no path in clear', async () => {
    const root = join(dir, 'damaged');
    const repo = await emptyStanza(root);
    const writer = new LedgerWriter(repo);
    for (let n = 0; n < 100; n++) await writer.add(entry(n));
    await writer.commit();
    const lines = (await ledgerFiles(root)).find((name) =>
      /^verify\.ledger\.[0-9a-f]{16}$/.test(name),
    ) as string;
    const path = join(root, 'backup', 'main', lines);
    const data = await readFile(path);
    await writeFile(path, data.toString('utf8').replace('"backup/main', '"backup/mainX'));
    const cursor = (await LedgerCursor.open(repo)) as LedgerCursor;
    expect((await cursor.close())?.code).toBe(26);

    const secret = join(dir, 'encrypted');
    const encrypted = await emptyStanza(secret, { encrypted: true });
    const sealed = new LedgerWriter(encrypted);
    await sealed.add(entry(1));
    await sealed.commit();
    const name = (await ledgerFiles(secret)).find((file) =>
      /^verify\.ledger\.[0-9a-f]{16}$/.test(file),
    ) as string;
    expect((await readFile(join(secret, 'backup', 'main', name))).includes('pg_data')).toBe(false);
    expect(await (await LedgerCursor.open(encrypted))?.lookup(entry(1).path)).toEqual(entry(1));
  });
});
