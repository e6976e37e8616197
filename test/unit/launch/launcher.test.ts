// Tests for bin/pgstash as a shell script: it starts node with its allocator settings, never over the user's own.
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgetLauncherTunables, LAUNCHER_MARK } from '../../../src/launch/allocator.js';
import { REPO_ROOT } from '../../harness/pgstash.js';
import { createTempDir, removeTempDir } from '../../harness/tmp.js';

const LAUNCHER = join(REPO_ROOT, 'bin', 'pgstash');

let fakeBin: string;

beforeAll(async () => {
  // A `node` first on PATH that reports what the shell line handed it, instead of running anything.
  fakeBin = await createTempDir({ label: 'launcher', owner: 'root' });
  const fake = join(fakeBin, 'node');
  writeFileSync(
    fake,
    '#!/bin/sh\nprintf "tunables=%s\\nmark=%s\\n" "${GLIBC_TUNABLES-unset}" "${PGSTASH_SET_TUNABLES-unset}"\nprintf "arg=%s\\n" "$@"\n',
  );
  chmodSync(fake, 0o755);
});

afterAll(async () => {
  await removeTempDir(fakeBin);
});

function launch(env: Record<string, string>, args: string[]): string[] {
  return execFileSync(LAUNCHER, args, { encoding: 'utf8', env: { PATH: `${fakeBin}:/usr/bin:/bin`, ...env } })
    .trim()
    .split('\n');
}

describe('bin/pgstash', () => {
  it('starts node on itself with every argument, a small young generation, a 64 MiB first old-generation limit, and glibc allocator settings marked as its own', () => {
    const lines = launch({}, ['--stanza=main', 'archive-get', 'a b', '']);
    expect(lines[0]).toMatch(/^tunables=glibc\.malloc\.mmap_threshold=\d+:.*glibc\.malloc\.arena_max=\d+$/);
    expect(lines[1]).toBe('mark=1');
    expect(lines.slice(2)).toEqual([
      'arg=--max-semi-space-size=2',
      'arg=--initial-old-space-size=64',
      `arg=${LAUNCHER}`,
      'arg=--stanza=main',
      'arg=archive-get',
      'arg=a b',
      'arg=',
    ]);
  });

  it("leaves a user's GLIBC_TUNABLES alone, even an empty one", () => {
    expect(launch({ GLIBC_TUNABLES: 'glibc.malloc.check=3' }, ['info']).slice(0, 2)).toEqual([
      'tunables=glibc.malloc.check=3',
      'mark=unset',
    ]);
    expect(launch({ GLIBC_TUNABLES: '' }, ['info']).slice(0, 2)).toEqual(['tunables=', 'mark=unset']);
  });

  it('runs the CLI with the real node, as a shell script and as JavaScript', () => {
    const env = { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` };
    const viaShell = execFileSync(LAUNCHER, ['version'], { encoding: 'utf8', env });
    const viaNode = execFileSync(process.execPath, [LAUNCHER, 'version'], { encoding: 'utf8', env });
    expect(viaShell).toMatch(/^pgstash \d+\.\d+\.\d+\n$/);
    expect(viaNode).toBe(viaShell);
  });
});

describe('forgetLauncherTunables', () => {
  it("removes the launcher's settings so that processes pgstash starts do not inherit them", () => {
    const env: NodeJS.ProcessEnv = {
      GLIBC_TUNABLES: 'glibc.malloc.arena_max=2',
      [LAUNCHER_MARK]: '1',
      PATH: '/bin',
    };
    forgetLauncherTunables(env);
    expect(env).toEqual({ PATH: '/bin' });
  });

  it("keeps a user's GLIBC_TUNABLES", () => {
    const env: NodeJS.ProcessEnv = { GLIBC_TUNABLES: 'glibc.malloc.arena_max=8' };
    forgetLauncherTunables(env);
    expect(env).toEqual({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=8' });
  });
});
