// Posix-only checks of the posix driver: modes under any umask, fsync order, large writes, error translation.
import { rejectionOf } from '../../harness/errors.js';
import { execFile } from 'node:child_process';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';

import { transpile } from '../../harness/transpile.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { PgStashError } from '../../../src/common/errors.js';
import { PosixDriver, TEMP_SUFFIX } from '../../../src/storage/posix.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** A child script that runs named operations against a PosixDriver and prints each outcome as JSON. */
const SCRIPT = `
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PosixDriver } from './src/storage/posix.js';

const driver = new PosixDriver(process.argv[2]);
const write = async (path, chunks, options) => pipeline(Readable.from(chunks), await driver.openWrite(path, options));
const operations = {
  write: () => write('archive/main/x', [Buffer.from('x')]),
  makePath: () => driver.makePath('archive/other'),
  openRead: () => driver.openRead('secret'),
  read: () => driver.read('secret'),
  readDirectory: () => driver.read('archive'),
  list: async () => { for await (const _ of driver.list('private')) {} },
  info: () => driver.info('private/file'),
  remove: () => driver.remove('archive/main/kept'),
  move: () => driver.move('archive/main/kept', 'archive/main/moved'),
  syncedWrite: () => write('dir/sub/file', Array.from({ length: 768 }, () => Buffer.alloc(4096, 7))),
  unsyncedWrite: () => write('nosync/file', [Buffer.from('x')], { sync: false }),
  smallWrite: () => write('big/file', [Buffer.from('old')]),
  largeWrite: () => write('big/file', Array.from({ length: 80 }, () => Buffer.alloc(65536, 1))),
};
const results = {};
for (const name of process.argv.slice(3)) {
  try {
    await operations[name]();
    results[name] = { ok: true };
  } catch (error) {
    results[name] = { kind: error.kind, code: error.code, message: error.message };
  }
}
console.log(JSON.stringify(results));
`;

interface Outcome {
  readonly ok?: true;
  readonly kind?: string;
  readonly code?: number;
  readonly message?: string;
}

let base: string;
let modules: string;
let root: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'pgstash-posix-'));
  modules = join(base, 'modules');
  await transpile(modules, [
    'src/common/errors.ts',
    'src/io/parallel.ts',
    'src/storage/posix.ts',
    'src/storage/file-io.ts',
    'src/storage/file-read-stream.ts',
    'src/storage/read-range.ts',
    'src/storage/temp-files.ts',
  ]);
  await writeFile(join(modules, 'script.mjs'), SCRIPT);
  // Let the unprivileged user of the permission test reach the modules.
  await run('chmod', ['-R', 'a+rX', base]);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

let testCount = 0;
beforeEach(async () => {
  root = join(base, `repo-${++testCount}`);
});

/** Runs the child script on `root` with `operations`; `prefix` wraps the command (runuser, strace, a shell). */
async function runScript(
  prefix: readonly string[],
  operations: readonly string[],
): Promise<Record<string, Outcome>> {
  const [command, ...args] = [...prefix, process.execPath, join(modules, 'script.mjs'), root, ...operations];
  const { stdout } = await run(command ?? '', args, { env: { ...process.env, UV_USE_IO_URING: '0' } });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, Outcome>;
}

/**
 * strace lines, one per syscall in the order the calls started: a call that another thread interrupted is
 * printed as '<unfinished ...>' and later '<... name resumed>'; the two halves are joined. strace pads the thread
 * id to a column ('3674  writev(...)': two spaces after a 4-digit id, one after a 5-digit one), so the halves are
 * matched with any run of spaces (a resumed half left unjoined once failed CI under Node 24).
 */
function syscalls(text: string): string[] {
  const result: string[] = [];
  const pending = new Map<string, number>();
  for (const line of text.split('\n')) {
    const unfinished = /^(\d+)\s+(.*) <unfinished \.\.\.>$/.exec(line);
    if (unfinished?.[1] !== undefined) {
      pending.set(unfinished[1], result.length);
      result.push(`${unfinished[1]} ${unfinished[2]}`);
      continue;
    }
    const resumed = /^(\d+)\s+<\.\.\. \w+ resumed>(.*)$/.exec(line);
    const index = pending.get(resumed?.[1] ?? '');
    if (resumed?.[1] !== undefined && index !== undefined) {
      result[index] += resumed[2] ?? '';
      pending.delete(resumed[1]);
      continue;
    }
    result.push(line);
  }
  return result;
}

async function write(driver: PosixDriver, path: string, data: Buffer | string, options?: { mode?: number }) {
  await pipeline(Readable.from([Buffer.from(data)]), await driver.openWrite(path, options));
}

async function modeOf(path: string): Promise<string> {
  return ((await stat(path)).mode & 0o7777).toString(8);
}

describe('PosixDriver modes', () => {
  let previousUmask: number;
  afterEach(() => {
    process.umask(previousUmask);
  });

  it.each(['000', '022', '077', '777'])(
    'creates files 0640 and directories 0750 under umask %s',
    async (umask) => {
      previousUmask = process.umask(parseInt(umask, 8));
      const driver = new PosixDriver(root);
      await write(driver, 'a/b/c/file', 'data');
      await driver.makePath('made/deep');
      await write(driver, 'moved-from', 'm');
      await driver.move('moved-from', 'into/new/place');
      for (const path of ['', 'a', 'a/b', 'a/b/c', 'made', 'made/deep', 'into', 'into/new']) {
        expect([path, await modeOf(join(root, path))]).toEqual([path, '750']);
      }
      expect(await modeOf(join(root, 'a/b/c/file'))).toBe('640');
      expect(await modeOf(join(root, 'into/new/place'))).toBe('640');
    },
  );

  it('applies configured modes and a per-write mode whatever the umask', async () => {
    previousUmask = process.umask(0o077);
    const driver = new PosixDriver(root, { fileMode: 0o600, pathMode: 0o711 });
    await write(driver, 'x/file', 'data');
    await write(driver, 'x/public', 'data', { mode: 0o644 });
    expect(await modeOf(join(root, 'x'))).toBe('711');
    expect(await modeOf(join(root, 'x/file'))).toBe('600');
    expect(await modeOf(join(root, 'x/public'))).toBe('644');
    expect((await driver.info('x/public'))?.mode).toBe(0o644);
  });

  it('leaves the mode of existing directories alone', async () => {
    previousUmask = process.umask(0o022);
    await mkdir(join(root, 'existing'), { recursive: true, mode: 0o755 });
    await write(new PosixDriver(root), 'existing/file', 'data');
    expect(await modeOf(join(root, 'existing'))).toBe('755');
  });
});

describe('PosixDriver durability', () => {
  it("reads strace's lines with their halves joined, whatever the padding of the thread id", () => {
    const text = [
      '3674  writev(20</r/f.tmp>, [...], 256 <unfinished ...>',
      '3675  fsync(21</r>) = 0',
      '3674  <... writev resumed>) = 1048576',
      '12345 pwritev(20</r/f.tmp>, [...], 256, 0 <unfinished ...>',
      '12345 <... pwritev resumed>) = 4096',
    ].join('\n');
    expect(syscalls(text)).toEqual([
      '3674 writev(20</r/f.tmp>, [...], 256) = 1048576',
      '3675  fsync(21</r>) = 0',
      '12345 pwritev(20</r/f.tmp>, [...], 256, 0) = 4096',
    ]);
  });

  it('fsyncs the file, renames it, then fsyncs the directory, in that order', async () => {
    const trace = join(base, `trace-${testCount}.txt`);
    const strace = ['strace', '-f', '-qq', '-y', '-s', '0', '-o', trace, '-e'];
    const results = await runScript(
      [
        ...strace,
        'trace=openat,write,pwrite64,writev,pwritev,pwritev2,fsync,fdatasync,rename,renameat,renameat2',
      ],
      ['syncedWrite', 'unsyncedWrite'],
    );
    expect(results).toEqual({ syncedWrite: { ok: true }, unsyncedWrite: { ok: true } });
    const lines = syscalls(await readFile(trace, 'utf8'));

    const final = join(root, 'dir/sub/file');
    const tempPattern = `${final}.[0-9a-f]{12}${TEMP_SUFFIX.replaceAll('.', '\\.')}`;
    const at = (pattern: string) => lines.findIndex((line) => new RegExp(pattern).test(line));
    const fileSync = at(`fsync\\(\\d+<${tempPattern}>\\)`);
    const renamed = at(`rename(at2?)?\\(.*"${tempPattern}".*"${final}"`);
    const directorySync = at(`fsync\\(\\d+<${join(root, 'dir/sub')}>\\)`);
    expect(fileSync).toBeGreaterThan(-1);
    expect(renamed).toBeGreaterThan(fileSync);
    expect(directorySync).toBeGreaterThan(renamed);
    // The new directory 'sub' is made durable in its parent before the file is written.
    expect(at(`fsync\\(\\d+<${join(root, 'dir')}>\\)`)).toBeGreaterThan(-1);
    expect(at(`fsync\\(\\d+<${join(root, 'dir')}>\\)`)).toBeLessThan(fileSync);

    // 3 MiB written as 768 chunks of 4 KiB reach the disk as a few 1 MiB (vectored) writes.
    const writes = lines.filter((line) =>
      new RegExp(`^\\d+\\s+(write|pwrite64|writev|pwritev2?)\\(\\d+<${tempPattern}>`).test(line),
    );
    expect(writes.map((line) => / = (\d+)$/.exec(line)?.[1])).toEqual([
      String(MiB),
      String(MiB),
      String(MiB),
    ]);

    // sync: false skips every fsync of that write.
    expect(lines.filter((line) => line.includes('fsync(') && line.includes(join(root, 'nosync')))).toEqual(
      [],
    );
    expect(at(`rename(at2?)?\\(.*"${join(root, 'nosync/file')}"`)).toBeGreaterThan(-1);
  });
});

describe('PosixDriver errors', () => {
  it('reports permission denied with the absolute path and the right code', async () => {
    // Root ignores permission bits, so the operations run as an unprivileged user against root-owned paths.
    await mkdir(join(root, 'archive/main'), { recursive: true, mode: 0o755 });
    await mkdir(join(root, 'private'), { mode: 0o700 });
    await writeFile(join(root, 'archive/main/kept'), 'kept');
    await writeFile(join(root, 'secret'), 'secret', { mode: 0o600 });
    await chmod(root, 0o755);
    const results = await runScript(
      ['runuser', '-u', 'nobody', '--'],
      ['write', 'makePath', 'openRead', 'read', 'readDirectory', 'list', 'info', 'remove', 'move'],
    );
    expect(results).toEqual({
      write: {
        kind: 'fileWrite',
        code: 64,
        message: `unable to write '${root}/archive/main/x': permission denied`,
      },
      makePath: {
        kind: 'pathCreate',
        code: 47,
        message: `unable to create path '${root}/archive/other': permission denied`,
      },
      openRead: {
        kind: 'fileOpen',
        code: 41,
        message: `unable to open '${root}/secret' for read: permission denied`,
      },
      read: {
        kind: 'fileOpen',
        code: 41,
        message: `unable to open '${root}/secret' for read: permission denied`,
      },
      readDirectory: {
        kind: 'fileOpen',
        code: 41,
        message: `unable to open '${root}/archive' for read: is a directory`,
      },
      list: { kind: 'fileOpen', code: 41, message: `unable to list '${root}/private': permission denied` },
      info: {
        kind: 'fileOpen',
        code: 41,
        message: `unable to get info for '${root}/private/file': permission denied`,
      },
      remove: {
        kind: 'fileWrite',
        code: 64,
        message: `unable to remove '${root}/archive/main/kept': permission denied`,
      },
      move: {
        kind: 'fileWrite',
        code: 64,
        message: `unable to move '${root}/archive/main/kept' to '${root}/archive/main/moved': permission denied`,
      },
    });
    expect(await readdir(join(root, 'archive/main'))).toEqual(['kept']);
  });

  it('fails a write that hits an error mid-stream, leaving the old version and no temporary file', async () => {
    // A 2 MiB file size limit makes the second MiB of a 5 MiB write fail with EFBIG.
    const results = await runScript(
      ['bash', '-c', 'ulimit -f 2048 && exec "$@"', 'limited'],
      ['smallWrite', 'largeWrite'],
    );
    expect(results).toEqual({
      smallWrite: { ok: true },
      largeWrite: {
        kind: 'fileWrite',
        code: 64,
        message: `unable to write '${root}/big/file': file too large`,
      },
    });
    expect(await readdir(join(root, 'big'))).toEqual(['file']);
    expect(await readFile(join(root, 'big/file'), 'utf8')).toBe('old');
  });

  it('refuses a read range that is not a non-negative integer, naming it', async () => {
    const driver = new PosixDriver(root);
    await write(driver, 'ranged', 'data');
    const cases = [
      [{ offset: -1 }, "read offset '-1' must be a non-negative integer"],
      [{ limit: 1.5 }, "read limit '1.5' must be a non-negative integer"],
    ] as const;
    for (const [range, message] of cases) {
      for (const call of [() => driver.openRead('ranged', range), () => driver.read('ranged', range)]) {
        const error = await rejectionOf(call());
        expect(error.kind).toBe('paramInvalid');
        expect(error.message).toBe(message);
      }
    }
  });

  it('openRead with readSize reads that many bytes at a time, and only when asked (a part of many open at once)', async () => {
    const driver = new PosixDriver(root);
    const data = Buffer.alloc(100_000);
    for (let index = 0; index < data.length; index++) data[index] = index % 251;
    await write(driver, 'pieces', data);
    const stream = (await driver.openRead('pieces', { offset: 10, readSize: 32 * 1024 }))!;
    const pieces: Buffer[] = [];
    for await (const piece of stream as AsyncIterable<Buffer>) {
      // Nothing read ahead of what was asked for.
      expect(stream.readableLength).toBe(0);
      pieces.push(piece);
    }
    expect(pieces.map((piece) => piece.length)).toEqual([32768, 32768, 32768, 100_000 - 10 - 3 * 32768]);
    expect(Buffer.concat(pieces).equals(data.subarray(10))).toBe(true);
  });

  it('removes the temporary file when the final rename fails', async () => {
    const driver = new PosixDriver(root);
    await driver.makePath('target/is-a-directory');
    const error = await rejectionOf(write(driver, 'target/is-a-directory', 'data'));
    expect(error.kind).toBe('fileWrite');
    expect(error.message).toMatch(new RegExp(`^unable to write '${root}/target/is-a-directory': `));
    expect(await readdir(join(root, 'target'))).toEqual(['is-a-directory']);
  });

  it('fails with pathMissing when parents may not be created', async () => {
    const driver = new PosixDriver(root);
    const error = await rejectionOf(driver.openWrite('absent/file', { createParent: false }));
    expect(error.code).toBe(73);
    expect(error.message).toBe(
      `unable to write '${root}/absent/file': parent path '${root}/absent' does not exist`,
    );
  });

  it('fails when a parent is a file', async () => {
    const driver = new PosixDriver(root);
    await write(driver, 'file', 'data');
    const error = await rejectionOf(driver.openWrite('file/child'));
    expect(error.kind).toBe('fileWrite');
    expect(error.message).toBe(`unable to write '${root}/file/child': not a directory`);
    const makeError = await rejectionOf(driver.makePath('file/child'));
    expect(makeError.kind).toBe('pathCreate');
    expect(makeError.message).toBe(`unable to create path '${root}/file/child': not a directory`);
  });

  it('refuses to open a directory for reading', async () => {
    const driver = new PosixDriver(root);
    await driver.makePath('dir');
    const error = await rejectionOf(driver.openRead('dir'));
    expect(error.code).toBe(41);
    expect(error.message).toBe(`unable to open '${root}/dir' for read: is a directory`);
  });

  it('rejects a relative root and invalid read ranges', async () => {
    expect(() => new PosixDriver('relative/path')).toThrow(PgStashError);
    const driver = new PosixDriver(root);
    await write(driver, 'file', 'data');
    expect((await rejectionOf(driver.openRead('file', { offset: -1 }))).kind).toBe('paramInvalid');
    expect((await rejectionOf(driver.openRead('file', { limit: 1.5 }))).kind).toBe('paramInvalid');
  });
});

describe('PosixDriver temporary files', () => {
  it('writes to a hidden temporary file beside the target, removed after an aborted write', async () => {
    const driver = new PosixDriver(root);
    const stream = await driver.openWrite('dir/file');
    await new Promise<void>((resolve, reject) =>
      stream.write(Buffer.alloc(3 * MiB, 1), (error) => (error ? reject(error) : resolve())),
    );
    const during = await readdir(join(root, 'dir'));
    expect(during).toHaveLength(1);
    expect(during[0]).toMatch(/^file\.[0-9a-f]{12}\.pgstash\.tmp$/);
    expect(await modeOf(join(root, 'dir', during[0] ?? ''))).toBe('640');

    const closed = new Promise((resolve) => stream.once('close', resolve));
    stream.on('error', () => undefined);
    stream.destroy(new Error('aborted'));
    await closed;
    expect(await readdir(join(root, 'dir'))).toEqual([]);
  });

  it('hides temporary files from list and refuses to write names that look like one', async () => {
    const driver = new PosixDriver(root);
    await write(driver, 'dir/file', 'data');
    await writeFile(join(root, 'dir', `file.0123456789ab${TEMP_SUFFIX}`), 'left by a crash');
    const names: string[] = [];
    for await (const entry of driver.list('dir')) names.push(entry.name);
    expect(names).toEqual(['file']);
    expect((await rejectionOf(driver.openWrite(`dir/x${TEMP_SUFFIX}`))).kind).toBe('paramInvalid');
    expect((await rejectionOf(driver.move('dir/file', `dir/x${TEMP_SUFFIX}`))).kind).toBe('paramInvalid');
  });

  it('removes leftover temporary files with removeTree', async () => {
    const driver = new PosixDriver(root);
    await write(driver, 'dir/file', 'data');
    await writeFile(join(root, 'dir', `file.0123456789ab${TEMP_SUFFIX}`), 'left by a crash');
    await driver.removeTree('dir');
    await expect(lstat(join(root, 'dir'))).rejects.toThrow(/ENOENT/);
  });
});

describe('PosixDriver links', () => {
  it('reports a symlink as a link, without following it', async () => {
    const driver = new PosixDriver(root);
    await write(driver, 'target', 'data');
    await symlink(join(root, 'target'), join(root, 'link'));
    expect((await driver.info('link'))?.type).toBe('link');
    const entries: [string, string][] = [];
    for await (const entry of driver.list('')) entries.push([entry.name, entry.type]);
    expect(entries.sort()).toEqual([
      ['link', 'link'],
      ['target', 'file'],
    ]);
  });

  it('normalises the root and reports it as its location', () => {
    expect(new PosixDriver(`${root}/`).location).toBe(root);
    expect(new PosixDriver('/').location).toBe('/');
  });
});
