// Tests of PostgreSQL's backup_manifest as we write it: exact layout, streaming, and pg_verifybackup of PostgreSQL 15.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chown, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgStashError } from '../../../src/common/errors.js';
import { writePgBackupManifest, type PgManifestFile } from '../../../src/postgres/backup-manifest.js';
import { listDataDir } from '../../../src/postgres/data-dir.js';
import { PgCluster, pgBin } from '../../harness/cluster.js';
import { exec } from '../../harness/exec.js';
import { postgresIds } from '../../harness/postgres-user.js';
import { createTempDir, removeAllTempDirs } from '../../harness/tmp.js';

afterAll(async () => {
  await removeAllTempDirs();
});

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const EMPTY_SHA = sha256('');

/** A Writable that keeps what it is given, chunk by chunk. */
class Collector extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    callback();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

async function manifestText(
  files: Iterable<PgManifestFile> | AsyncIterable<PgManifestFile>,
): Promise<string> {
  const out = new Collector();
  await writePgBackupManifest(out, { files, timeline: 1, startLsn: '0/2000028', endLsn: '0/2000100' });
  return out.text;
}

/** Checks the Manifest-Checksum the way pg_verifybackup does: SHA-256 of everything before the last line. */
function expectValidChecksum(text: string): void {
  const lastLine = text.lastIndexOf('\n', text.length - 2) + 1;
  const match = /^"Manifest-Checksum": "([0-9a-f]{64})"}\n$/.exec(text.slice(lastLine));
  expect(match).not.toBeNull();
  expect(match?.[1]).toBe(sha256(text.slice(0, lastLine)));
}

describe('writePgBackupManifest', () => {
  it('writes the layout of PostgreSQL 15 byte for byte', async () => {
    const text = await manifestText([
      { path: 'PG_VERSION', size: 3, mtime: 1_795_256_100, sha256: sha256('15\n') },
      { path: 'pg_tblspc/16385/PG_15_202209061/5/16386', size: 0, mtime: 0, sha256: EMPTY_SHA.toUpperCase() },
    ]);
    const body =
      '{ "PostgreSQL-Backup-Manifest-Version": 1,\n' +
      '"Files": [\n' +
      `{ "Path": "PG_VERSION", "Size": 3, "Last-Modified": "2026-11-21 10:15:00 GMT", "Checksum-Algorithm": "SHA256", "Checksum": "${sha256('15\n')}" },\n` +
      `{ "Path": "pg_tblspc/16385/PG_15_202209061/5/16386", "Size": 0, "Last-Modified": "1970-01-01 00:00:00 GMT", "Checksum-Algorithm": "SHA256", "Checksum": "${EMPTY_SHA}" }\n` +
      '],\n' +
      '"WAL-Ranges": [\n' +
      '{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" }\n' +
      '],\n';
    expect(text).toBe(`${body}"Manifest-Checksum": "${sha256(body)}"}\n`);
  });

  it('writes an empty file list as PostgreSQL would', async () => {
    const text = await manifestText([]);
    expect(
      text.startsWith('{ "PostgreSQL-Backup-Manifest-Version": 1,\n"Files": [\n],\n"WAL-Ranges": [\n'),
    ).toBe(true);
    expect(JSON.parse(text)).toMatchObject({ Files: [] });
    expectValidChecksum(text);
  });

  it('escapes paths as JSON and hex-encodes names that are not UTF-8', async () => {
    const awkward = 'base/1/a "quoted"\\back\tslash\n\u0001é€𝄞';
    const text = await manifestText([
      { path: awkward, size: 1, mtime: 1, sha256: EMPTY_SHA },
      { path: Buffer.from('base/1/ok-bytes-é'), size: 1, mtime: 1, sha256: EMPTY_SHA },
      { path: Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]), size: 1, mtime: 1, sha256: EMPTY_SHA },
    ]);
    const parsed = JSON.parse(text) as { Files: { Path?: string; 'Encoded-Path'?: string }[] };
    expect(parsed.Files[0]?.Path).toBe(awkward);
    expect(parsed.Files[1]?.Path).toBe('base/1/ok-bytes-é');
    expect(parsed.Files[2]).toMatchObject({ 'Encoded-Path': '626164fffe' });
    expect(parsed.Files[2]?.Path).toBeUndefined();
    // Control characters as PostgreSQL's escape_json writes them.
    expect(text).toContain('\\"quoted\\"\\\\back\\tslash\\n\\u0001é€𝄞"');
    expectValidChecksum(text);
  });

  it('normalises the LSNs and checks its input', async () => {
    const out = new Collector();
    await writePgBackupManifest(out, {
      files: [],
      timeline: 3,
      startLsn: '0/2a',
      endLsn: '00000001/0000ABCD',
    });
    expect(out.text).toContain('{ "Timeline": 3, "Start-LSN": "0/2A", "End-LSN": "1/ABCD" }');

    const bad: [Partial<Parameters<typeof writePgBackupManifest>[1]>, RegExp][] = [
      [{ timeline: 0 }, /invalid timeline '0'/],
      [{ startLsn: 'x' }, /invalid LSN 'x'/],
      [{ startLsn: '0/3000000', endLsn: '0/2000000' }, /end LSN '0\/2000000' is before start LSN/],
      [{ files: [{ path: 'a', size: -1, mtime: 0, sha256: EMPTY_SHA }] }, /invalid size '-1' of 'a'/],
      [{ files: [{ path: 'a', size: 1, mtime: 0, sha256: 'abc' }] }, /invalid SHA-256 'abc' of 'a'/],
      [{ files: [{ path: 'a\uD800', size: 1, mtime: 0, sha256: EMPTY_SHA }] }, /invalid path/],
    ];
    for (const [change, message] of bad) {
      const options = { files: [], timeline: 1, startLsn: '0/1', endLsn: '0/2', ...change };
      await expect(writePgBackupManifest(new Collector(), options)).rejects.toThrow(message);
    }
  });

  it('streams: 100k files are written in batches while the list is still being read', async () => {
    const count = 100_000;
    let produced = 0;
    let producedAtFirstChunk = -1;
    async function* files(): AsyncGenerator<PgManifestFile> {
      for (let index = 0; index < count; index++) {
        produced++;
        yield {
          path: `base/16384/${String(20000 + index)}`,
          size: index,
          mtime: 1_795_256_100,
          sha256: EMPTY_SHA,
        };
      }
    }
    const chunkSizes: number[] = [];
    const chunks: Buffer[] = [];
    const out = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _encoding, callback): void {
        if (producedAtFirstChunk < 0) producedAtFirstChunk = produced;
        chunkSizes.push(chunk.length);
        chunks.push(chunk);
        // A slow destination: the writer must wait for it rather than buffer everything.
        setImmediate(callback);
      },
    });
    await writePgBackupManifest(out, { files: files(), timeline: 1, startLsn: '0/1', endLsn: '0/2' });
    expect(producedAtFirstChunk).toBeGreaterThan(0);
    expect(producedAtFirstChunk).toBeLessThan(count / 10);
    expect(Math.max(...chunkSizes)).toBeLessThan(128 * 1024);
    const text = Buffer.concat(chunks).toString('utf8');
    const parsed = JSON.parse(text) as { Files: { Path: string; Size: number }[] };
    expect(parsed.Files).toHaveLength(count);
    expect(parsed.Files[count - 1]).toMatchObject({
      Path: `base/16384/${String(20000 + count - 1)}`,
      Size: count - 1,
    });
    expectValidChecksum(text);
  });

  it('destroys the destination when the file list fails, and leaves no file behind', async () => {
    async function* failing(): AsyncGenerator<PgManifestFile> {
      yield { path: 'a', size: 0, mtime: 0, sha256: EMPTY_SHA };
      throw new Error('listing failed');
    }
    const out = new Collector();
    await expect(
      writePgBackupManifest(out, { files: failing(), timeline: 1, startLsn: '0/1', endLsn: '0/2' }),
    ).rejects.toThrow('listing failed');
    expect(out.destroyed).toBe(true);
    expect(out.writableFinished).toBe(false);

    const dir = await createTempDir({ owner: 'root', label: 'manifest' });
    const path = join(dir, 'backup_manifest');
    const error: unknown = await writePgBackupManifest(path, {
      files: [{ path: 'a', size: 0, mtime: 0, sha256: 'bad' }],
      timeline: 1,
      startLsn: '0/1',
      endLsn: '0/2',
    }).catch((caught: unknown) => caught);
    expect(isPgStashError(error, 'paramInvalid')).toBe(true);
    expect(await readdir(dir)).toEqual([]);
    await expect(
      writePgBackupManifest(path, { files: failing(), timeline: 1, startLsn: '0/1', endLsn: '0/2' }),
    ).rejects.toThrow(/^listing failed$/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('writes to a file path with mode 0600, the same bytes as to a stream', async () => {
    const dir = await createTempDir({ owner: 'root', label: 'manifest' });
    const path = join(dir, 'backup_manifest');
    const files = [{ path: 'global/pg_control', size: 8192, mtime: 1_795_256_100, sha256: EMPTY_SHA }];
    await writePgBackupManifest(path, { files, timeline: 1, startLsn: '0/2000028', endLsn: '0/2000100' });
    expect(await readFile(path, 'utf8')).toBe(await manifestText(files));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['backup_manifest']);
    await expect(
      writePgBackupManifest(join(dir, 'missing', 'backup_manifest'), {
        files,
        timeline: 1,
        startLsn: '0/1',
        endLsn: '0/2',
      }),
    ).rejects.toMatchObject({ kind: 'fileWrite' });
  });
});

/** SHA-256 of a file, streamed. */
async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

interface PgManifest {
  Files: { Path: string; Size: number; Checksum: string }[];
  'WAL-Ranges': { Timeline: number; 'Start-LSN': string; 'End-LSN': string }[];
}

describe('pg_verifybackup of PostgreSQL 15 accepts our manifest', () => {
  let cluster: PgCluster;
  let copy: string;
  let theirs: PgManifest;
  let tablespaceOid: string;
  let tableFile: string;
  let tablespaceFile: string;

  /** Our manifest for `copy`, from the files on disk (hashed one at a time as the writer asks for them). */
  async function writeOurs(extra: PgManifestFile[] = []): Promise<void> {
    async function* files(): AsyncGenerator<PgManifestFile> {
      // backup_label is no data directory file: the backup writes it from pg_backup_stop's answer.
      const entries = [{ name: 'pg_data/backup_label', absolutePath: join(copy, 'backup_label') }];
      for (const entry of entries) yield await manifestFile(entry.name, entry.absolutePath);
      for await (const entry of listDataDir(copy, { pgVersion: '15' })) {
        if (entry.type === 'file') yield await manifestFile(entry.name, entry.absolutePath);
      }
      yield* extra;
    }
    const range = theirs['WAL-Ranges'][0];
    if (range === undefined) throw new Error('pg_basebackup wrote no WAL range');
    const path = join(copy, 'backup_manifest');
    await writePgBackupManifest(path, {
      files: files(),
      timeline: range.Timeline,
      startLsn: range['Start-LSN'],
      endLsn: range['End-LSN'],
    });
    const { uid, gid } = postgresIds();
    await chown(path, uid, gid);
  }

  async function manifestFile(name: string, absolutePath: string): Promise<PgManifestFile> {
    const stats = await stat(absolutePath);
    return {
      path: name.startsWith('pg_data/') ? name.slice('pg_data/'.length) : name,
      size: stats.size,
      mtime: Math.floor(stats.mtimeMs / 1000),
      sha256: await fileSha256(absolutePath),
    };
  }

  async function verify(): Promise<{ code: number | null; output: string }> {
    const result = await exec(pgBin('pg_verifybackup'), ['-n', copy], { asPostgres: true });
    return { code: result.code, output: result.stdout + result.stderr };
  }

  /** Flips one byte in the middle of a file and returns the function that puts it back. */
  async function corrupt(path: string): Promise<() => Promise<void>> {
    const handle = await open(path, 'r+');
    try {
      const size = (await handle.stat()).size;
      const position = Math.floor(size / 2);
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, position);
      const original = byte[0] ?? 0;
      await handle.write(Buffer.from([original ^ 0xff]), 0, 1, position);
      return async () => {
        const again = await open(path, 'r+');
        await again.write(Buffer.from([original]), 0, 1, position);
        await again.close();
      };
    } finally {
      await handle.close();
    }
  }

  beforeAll(async () => {
    cluster = await PgCluster.create();
    await cluster.start();
    const tablespaceDir = await createTempDir({ label: 'ts' });
    await cluster.psql(`create tablespace ts1 location '${tablespaceDir}'`);
    await cluster.psql(
      'create table t (i int, s text); insert into t select i, repeat(i::text, 20) from generate_series(1, 5000) i;' +
        'create table t_ts (i int) tablespace ts1; insert into t_ts select generate_series(1, 5000);' +
        'create unlogged table t_nolog (i int); insert into t_nolog values (1); checkpoint;',
    );
    tablespaceOid = await cluster.psql("select oid from pg_tablespace where spcname = 'ts1'");
    [tableFile = '', tablespaceFile = ''] = (
      await cluster.psql("select pg_relation_filepath(c) from unnest(array['t', 't_ts']::regclass[]) as c")
    ).split('\n');
    copy = await createTempDir({ label: 'copy' });
    const tablespaceCopy = join(await createTempDir({ label: 'tscopy' }), 'ts1');
    await cluster.runTool('pg_basebackup', [
      '-D',
      copy,
      '-Fp',
      '-X',
      'none',
      '-c',
      'fast',
      '--no-sync',
      '--manifest-checksums=SHA256',
      '-T',
      `${tablespaceDir}=${tablespaceCopy}`,
    ]);
    theirs = JSON.parse(await readFile(join(copy, 'backup_manifest'), 'utf8')) as PgManifest;
  });

  afterAll(async () => {
    await cluster.destroy();
  });

  it('lists the same files, sizes and checksums as pg_basebackup', async () => {
    await rm(join(copy, 'backup_manifest'));
    await writeOurs();
    const ours = JSON.parse(await readFile(join(copy, 'backup_manifest'), 'utf8')) as PgManifest;
    const summary = (manifest: PgManifest): string[] =>
      manifest.Files.map((file) => `${file.Path} ${String(file.Size)} ${file.Checksum}`).sort();
    expect(summary(ours)).toEqual(summary(theirs));
    expect(ours['WAL-Ranges']).toEqual(theirs['WAL-Ranges']);
    expect(ours.Files.map((file) => file.Path)).toContain(tablespaceFile);
    expect(tablespaceFile.startsWith(`pg_tblspc/${tablespaceOid}/PG_15_202209061/`)).toBe(true);
  });

  it('passes pg_verifybackup -n, tablespace files included', async () => {
    const result = await verify();
    expect(result.output).toMatch(/backup successfully verified/);
    expect(result.code).toBe(0);
  });

  it('fails pg_verifybackup naming the file when one byte changes', async () => {
    for (const file of [tableFile, tablespaceFile]) {
      const repair = await corrupt(join(copy, file));
      try {
        const result = await verify();
        expect(result.code, file).not.toBe(0);
        expect(result.output).toContain(`checksum mismatch for file "${file}"`);
      } finally {
        await repair();
      }
    }
    expect((await verify()).code).toBe(0);
  });

  it('describes a file whose name is not UTF-8 by its Encoded-Path', async () => {
    // pg_snapshots is a directory whose contents backups leave out; pg_verifybackup still checks it.
    const name = Buffer.concat([Buffer.from('pg_snapshots/odd-'), Buffer.from([0xff, 0xfe])]);
    const absolute = Buffer.concat([Buffer.from(`${copy}/`), name]);
    await writeFile(absolute, 'not utf-8 named');
    const { uid, gid } = postgresIds();
    await chown(absolute, uid, gid);
    try {
      // Before the manifest knows about it, pg_verifybackup reports the extra file...
      expect((await verify()).output).toMatch(/present on disk but not in the manifest/);
      await writeOurs([{ path: name, size: 15, mtime: 0, sha256: sha256('not utf-8 named') }]);
      expect(await readFile(join(copy, 'backup_manifest'), 'utf8')).toContain(
        `"Encoded-Path": "${name.toString('hex')}"`,
      );
      // ...and once it does, the encoded name matches the file on disk byte for byte.
      const result = await verify();
      expect(result.output).toMatch(/backup successfully verified/);
      expect(result.code).toBe(0);
    } finally {
      await rm(absolute);
      expect(existsSync(absolute)).toBe(false);
    }
  });
});
