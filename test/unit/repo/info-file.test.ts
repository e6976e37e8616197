// Info files: round trip (plain and encrypted), checksum detection, and the .copy fallback.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PgStashError } from '../../../src/common/errors.js';
import { generateKey } from '../../../src/io/crypto/key.js';
import { EncryptedWithoutKeyError } from '../../../src/io/crypto/no-key.js';
import { readArchiveInfo, writeArchiveInfo } from '../../../src/repo/archive-info.js';
import { readBackupInfo, writeBackupInfo } from '../../../src/repo/backup-info.js';
import { newDbHistory } from '../../../src/repo/db-history.js';
import { decodeInfo, encodeInfo, readInfoFile, writeInfoFile } from '../../../src/repo/info-file.js';
import { PosixDriver } from '../../../src/storage/posix.js';

let root: string;
let driver: PosixDriver;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'pgstash-info-'));
  driver = new PosixDriver(root);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const history = newDbHistory({
  version: '15',
  systemId: 7710607530016829498n,
  catalogVersion: 202209061,
  controlVersion: 1300,
});

describe('encodeInfo / decodeInfo', () => {
  it('round-trips any JSON content', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (content) => {
        const decoded = decodeInfo('test', encodeInfo('test', content), 'x');
        expect(JSON.stringify(decoded)).toBe(JSON.stringify(JSON.parse(JSON.stringify(content))));
      }),
    );
  });

  it('detects a changed value as a checksum error (26)', () => {
    const data = encodeInfo('test', { value: 12345 }).toString().replace('12345', '12346');
    expect(() => decodeInfo('test', Buffer.from(data), 'where')).toThrowError(
      /'where' is corrupt: checksum mismatch/,
    );
    try {
      decodeInfo('test', Buffer.from(data), 'where');
    } catch (error) {
      expect((error as PgStashError).code).toBe(26);
    }
  });

  it('refuses another kind and garbage as format errors (29)', () => {
    expect(() => decodeInfo('archive.info', encodeInfo('backup.info', {}), 'x')).toThrowError(
      /not a archive.info file/,
    );
    expect(() => decodeInfo('test', Buffer.from('{not json'), 'x')).toThrowError(PgStashError);
  });
});

describe('archive.info and backup.info', () => {
  it('round-trip with a 64-bit system id kept exact', async () => {
    await writeArchiveInfo(driver, 'main', history, undefined);
    const read = await readArchiveInfo(driver, 'main', undefined);
    expect(read?.current.systemId).toBe(7710607530016829498n);
    expect(read?.history).toHaveLength(1);
    await writeBackupInfo(driver, 'main', { ...history, backups: [] }, undefined);
    expect((await readBackupInfo(driver, 'main', undefined))?.backups).toEqual([]);
  });

  it('round-trip encrypted, and the file on disk is not readable JSON', async () => {
    const key = generateKey();
    await writeArchiveInfo(driver, 'main', history, key);
    const raw = await readFile(join(root, 'archive/main/archive.info'));
    expect(raw.subarray(0, 8).toString('latin1')).toBe('PGSTENC1');
    expect(raw.toString('latin1')).not.toContain('7710607530016829498');
    expect((await readArchiveInfo(driver, 'main', key))?.current.systemId).toBe(history.current.systemId);
    await expect(readArchiveInfo(driver, 'main', generateKey())).rejects.toMatchObject({ code: 95 });
  });

  it('is undefined when neither file exists', async () => {
    expect(await readArchiveInfo(driver, 'nothing', undefined)).toBeUndefined();
  });
});

describe('.copy fallback', () => {
  const path = 'backup/main/test.info';

  it('uses the copy when the main file is missing', async () => {
    await writeInfoFile(driver, path, { kind: 'test', content: { a: 1 } });
    await rm(join(root, path));
    expect(await readInfoFile(driver, path, { kind: 'test' })).toEqual({ a: 1 });
  });

  it('uses the copy when the main file is corrupt', async () => {
    await writeInfoFile(driver, path, { kind: 'test', content: { a: 1 } });
    const text = await readFile(join(root, path), 'utf8');
    await writeFile(join(root, path), text.replace('"a": 1', '"a": 2'));
    expect(await readInfoFile(driver, path, { kind: 'test' })).toEqual({ a: 1 });
  });

  it('fails with the main file error when both are corrupt', async () => {
    await writeInfoFile(driver, path, { kind: 'test', content: { a: 1 } });
    for (const name of [path, `${path}.copy`]) {
      const text = await readFile(join(root, name), 'utf8');
      await writeFile(join(root, name), text.replace('"a": 1', '"a": 3'));
    }
    await expect(readInfoFile(driver, path, { kind: 'test' })).rejects.toMatchObject({ code: 26 });
  });

  it('reads the main file when the copy is corrupt', async () => {
    await writeInfoFile(driver, path, { kind: 'test', content: { a: 1 } });
    await writeFile(join(root, `${path}.copy`), 'garbage');
    expect(await readInfoFile(driver, path, { kind: 'test' })).toEqual({ a: 1 });
  });
});

describe('an encrypted info file read without a key', () => {
  it('is refused with crypto (95) from its first bytes, its copy or the file alone, not parsed as damaged JSON', async () => {
    await writeArchiveInfo(driver, 'main', history, generateKey());
    await expect(readArchiveInfo(driver, 'main', undefined)).rejects.toBeInstanceOf(EncryptedWithoutKeyError);
    await rm(join(root, 'archive/main/archive.info'));
    await expect(readArchiveInfo(driver, 'main', undefined)).rejects.toThrow(
      /archive\.info\.copy' is encrypted/,
    );
  });
});
