// Tests for the launcher's code cache: a private directory or none, written once, used after, rejected when stale.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as nodeModule from 'node:module';
import {
  cacheFileName,
  enableModuleCompileCache,
  MODULE_CACHE_SUBDIRECTORY,
  privateCacheDirectory,
  staleCaches,
} from '../../../src/launch/code-cache.js';
import { postgresIds } from '../../harness/postgres-user.js';
import { REPO_ROOT } from '../../harness/pgstash.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';

/** The built launcher module: the cache is written at process exit, so each run is a child process. */
const LAUNCH = join(REPO_ROOT, 'dist', 'bundle', 'launch.cjs');

let root: string;

beforeAll(async () => {
  root = await createTempDir({ label: 'code-cache', owner: 'root' });
});

afterAll(async () => {
  await removeTempDir(root);
});

/** Runs `file` through runCommonJs in a child; returns what it printed (the module's output, then the cache use). */
function run(file: string, dir: string, env: Record<string, string> = {}): string[] {
  const script = `const use = require(${JSON.stringify(LAUNCH)}).runCommonJs(${JSON.stringify(file)}, { dir: ${JSON.stringify(dir)}, variant: 'test' }); console.log(use);`;
  return execFileSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '', ...env },
  })
    .trim()
    .split('\n');
}

describe('privateCacheDirectory', () => {
  it('creates pgstash-<uid> with mode 0700 and returns it', () => {
    const base = join(root, 'fresh');
    mkdirSync(base);
    const dir = privateCacheDirectory(base);
    expect(dir).toBe(join(base, `pgstash-${process.getuid?.() ?? -1}`));
    expect(existsSync(dir as string)).toBe(true);
    expect(privateCacheDirectory(base)).toBe(dir);
  });

  it('refuses a directory others may write to, one owned by another user, one in a non-sticky shared dir, and a symbolic link', () => {
    const uid = process.getuid?.() ?? -1;
    const writable = join(root, 'writable');
    mkdirSync(join(writable, `pgstash-${uid}`), { recursive: true });
    chmodSync(join(writable, `pgstash-${uid}`), 0o777);
    expect(privateCacheDirectory(writable)).toBeUndefined();

    const foreign = join(root, 'foreign');
    mkdirSync(join(foreign, `pgstash-${uid}`), { recursive: true, mode: 0o700 });
    const postgres = postgresIds();
    chownSync(join(foreign, `pgstash-${uid}`), postgres.uid, postgres.gid);
    expect(privateCacheDirectory(foreign)).toBeUndefined();

    // A temp dir others may write to, without the sticky bit: they could rename the cache directory away.
    const open = join(root, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    chownSync(open, postgres.uid, postgres.gid);
    expect(privateCacheDirectory(open)).toBeUndefined();
    chmodSync(open, 0o1777);
    expect(privateCacheDirectory(open)).toBe(join(open, `pgstash-${uid}`));

    const linked = join(root, 'linked');
    mkdirSync(join(linked, 'target'), { recursive: true, mode: 0o700 });
    symlinkSync(join(linked, 'target'), join(linked, `pgstash-${uid}`));
    expect(privateCacheDirectory(linked)).toBeUndefined();
  });
});

describe('runCommonJs', () => {
  it('runs the file as require would, writes the cache at exit, then uses it', () => {
    const dir = join(root, 'cache');
    mkdirSync(dir, { mode: 0o700 });
    const file = join(root, 'module.cjs');
    writeFileSync(
      file,
      "const { basename } = require('node:path');\nconsole.log(basename(__filename), basename(__dirname), typeof module.exports);\n",
    );
    expect(run(file, dir)).toEqual([`module.cjs ${basename(root)} object`, 'written-at-exit']);
    expect(readdirSync(dir)).toEqual([cacheFileName(file, 'test')]);
    expect(run(file, dir).at(-1)).toBe('used');
  });

  it('writes a new cache when the file changes, and replaces one V8 rejects', () => {
    const dir = join(root, 'stale');
    mkdirSync(dir, { mode: 0o700 });
    const file = join(root, 'changing.cjs');
    writeFileSync(file, 'console.log(1);\n');
    expect(run(file, dir)).toEqual(['1', 'written-at-exit']);
    const first = cacheFileName(file, 'test');
    writeFileSync(file, 'console.log(22);\n');
    expect(cacheFileName(file, 'test')).not.toBe(first);
    expect(run(file, dir)).toEqual(['22', 'written-at-exit']);
    expect(run(file, dir)).toEqual(['22', 'used']);
    // The first build's cache is gone: an upgrade leaves one cache per command, not one per build ever run.
    expect(readdirSync(dir)).toEqual([cacheFileName(file, 'test')]);
    // Garbage where the cache should be: V8 rejects it, the module still runs, and a good cache replaces it.
    writeFileSync(join(dir, cacheFileName(file, 'test')), Buffer.alloc(5000, 7));
    expect(run(file, dir)).toEqual(['22', 'written-at-exit']);
    expect(run(file, dir)).toEqual(['22', 'used']);
  });
});

describe('the SDK bundles (launch/sdk-bundle.ts)', () => {
  // Built by scripts/bundle.ts; the CLI and workers load them in place of node_modules.
  for (const [bundle, exported] of [
    ['sdk-s3', 'S3Client'],
    ['sdk-azure', 'BlobServiceClient'],
  ] as const) {
    it(`${bundle}.cjs loads with its code cache, the client class exported, and the cache is only read off the main thread`, () => {
      const dir = join(root, bundle);
      mkdirSync(dir, { mode: 0o700 });
      const file = join(REPO_ROOT, 'dist', 'bundle', `${bundle}.cjs`);
      const load = (writeCache: boolean): string[] => {
        const script = `const { use, exports } = require(${JSON.stringify(LAUNCH)}).loadCommonJs(${JSON.stringify(file)}, { dir: ${JSON.stringify(dir)}, variant: ${JSON.stringify(bundle)} }, { writeCache: ${String(writeCache)} }); console.log(typeof exports[${JSON.stringify(exported)}], use);`;
        return execFileSync(process.execPath, ['-e', script], {
          encoding: 'utf8',
          env: { PATH: process.env['PATH'] ?? '' },
        })
          .trim()
          .split(' ');
      };
      expect(load(false)).toEqual(['function', 'off']);
      expect(readdirSync(dir)).toEqual([]);
      expect(load(true)).toEqual(['function', 'written-at-exit']);
      expect(readdirSync(dir)).toEqual([cacheFileName(file, bundle)]);
      expect(load(false)).toEqual(['function', 'used']);
    });
  }
});

describe('staleCaches', () => {
  it("names only earlier builds of the same install, Node and variant, not others' caches or temp files", () => {
    const dir = join(root, 'siblings');
    mkdirSync(dir, { mode: 0o700 });
    const file = join(root, 'installed.cjs');
    const other = join(root, 'other-install.cjs');
    writeFileSync(file, 'console.log(1);\n');
    writeFileSync(other, 'console.log(1);\n');
    const current = cacheFileName(file, 'test');
    const earlier = current.replace(/[0-9a-f]{8}\.v8cache$/, '0badf00d.v8cache');
    const kept = [
      current,
      cacheFileName(file, 'other-variant'),
      cacheFileName(other, 'test'),
      current.replace(process.version, 'v99.0.0'),
      `${earlier}.1234.tmp`,
      'unrelated.txt',
    ];
    for (const name of [...kept, earlier]) writeFileSync(join(dir, name), 'x');
    expect(staleCaches(dir, file, 'test')).toEqual([earlier]);
  });
});

describe('launch', () => {
  /**
   * Runs `launch` for `command` on a script that blocks 6 of libuv's pool threads on FIFO reads and then asks
   * the pool for a stat: 'room' when the stat is answered, 'full' when it is not within a second.
   */
  function poolRoom(command: string, env: Record<string, string> = {}): string {
    const dir = join(root, `fifos-${command}-${Object.keys(env).length}`);
    mkdirSync(dir);
    const file = join(dir, 'pool.cjs');
    writeFileSync(
      file,
      `const fs = require('node:fs');
       const { execFileSync } = require('node:child_process');
       const fds = [0, 1, 2, 3, 4, 5].map((i) => {
         execFileSync('mkfifo', [${JSON.stringify(dir)} + '/f' + i]);
         return fs.openSync(${JSON.stringify(dir)} + '/f' + i, 'r+');
       });
       for (const fd of fds) fs.read(fd, Buffer.alloc(1), 0, 1, null, () => undefined);
       let told = false;
       const tell = (what) => {
         if (told) return;
         told = true;
         console.log(what, process.env.UV_THREADPOOL_SIZE ?? '-');
         for (const fd of fds) fs.writeSync(fd, 'x');
       };
       const timer = setTimeout(() => tell('full'), 1000);
       fs.stat(${JSON.stringify(dir)}, () => { clearTimeout(timer); tell('room'); });`,
    );
    const script = `require(${JSON.stringify(LAUNCH)}).launch(${JSON.stringify(file)}, ['--stanza=main', ${JSON.stringify(command)}]);`;
    return execFileSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '', NODE_DISABLE_COMPILE_CACHE: '1', ...env },
    }).trim();
  }

  it('gives restore a thread pool of 16 (fsyncs cannot take every thread), other commands libuv’s 4', () => {
    expect(poolRoom('restore')).toBe('room 16');
    expect(poolRoom('archive-get')).toBe('full -');
    expect(poolRoom('backup')).toBe('full -');
    // A size the user chose stands.
    expect(poolRoom('restore', { UV_THREADPOOL_SIZE: '4' })).toBe('full 4');
  });

  it('keeps no cache when NODE_DISABLE_COMPILE_CACHE is set', () => {
    const file = join(root, 'plain.cjs');
    writeFileSync(file, 'console.log("ran");\n');
    const tmp = join(root, 'tmp-disabled');
    mkdirSync(tmp);
    const script = `require(${JSON.stringify(LAUNCH)}).launch(${JSON.stringify(file)}, ['archive-get']);`;
    const env = { PATH: process.env['PATH'] ?? '', TMPDIR: tmp };
    expect(
      execFileSync(process.execPath, ['-e', script], {
        encoding: 'utf8',
        env: { ...env, NODE_DISABLE_COMPILE_CACHE: '1' },
      }).trim(),
    ).toBe('ran');
    expect(readdirSync(tmp)).toEqual([]);
    execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env });
    const dir = join(tmp, `pgstash-${process.getuid?.() ?? -1}`);
    // Node's own compile cache (Node 22.1+) has a directory of its own beside the bundle's cache.
    expect(readdirSync(dir).filter((name) => name !== MODULE_CACHE_SUBDIRECTORY)).toEqual([
      cacheFileName(file, 'archive-get'),
    ]);
  });

  it("turns on Node's compile cache for what the bundle requires from node_modules where Node has one (22.1+)", () => {
    // The file requires a CommonJS package, as an S3 command requires the SDK.
    const file = join(root, 'requires.cjs');
    writeFileSync(
      file,
      `require(${JSON.stringify(join(REPO_ROOT, 'node_modules', 'ini'))}); console.log("ran");\n`,
    );
    const tmp = join(root, 'tmp-modules');
    mkdirSync(tmp);
    const script = `require(${JSON.stringify(LAUNCH)}).launch(${JSON.stringify(file)}, ['archive-get']);`;
    const env = { PATH: process.env['PATH'] ?? '', TMPDIR: tmp };
    expect(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env }).trim()).toBe('ran');
    const modules = join(tmp, `pgstash-${process.getuid?.() ?? -1}`, MODULE_CACHE_SUBDIRECTORY);
    const supported =
      typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache === 'function';
    const cached = (): string[] =>
      existsSync(modules) ? readdirSync(modules, { recursive: true, encoding: 'utf8' }) : [];
    if (supported) {
      // A cache entry per module compiled, written at exit.
      expect(cached().length).toBeGreaterThan(0);
      expect(enableModuleCompileCache(join(root, 'elsewhere'))).toBe('enabled');
    } else {
      expect(cached()).toEqual([]);
      expect(enableModuleCompileCache(join(root, 'elsewhere'))).toBe('unsupported');
    }
  });
});
