// The README's first command: `npm run demo` (dist/demo/main.js) runs its whole story and cleans up after itself,
// with the repository in a local directory and (`--repo=s3`) in a bucket of a local S3 server.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exec } from '../harness/exec.js';
import { REPO_ROOT } from '../harness/pgstash.js';
import { s3ServerAvailable } from '../harness/s3-server.js';

describe('npm run demo', () => {
  // Without versitygw (outside CI) the S3 story is skipped, and says so; under CI=true a missing one fails the file.
  const stories: [string, string[]][] = [['a local directory', []]];
  if (s3ServerAvailable('versitygw'))
    stories.push(['a bucket of a local S3 server (--repo=s3)', ['--repo=s3']]);
  else it.skip('backs up to a bucket of a local S3 server (--repo=s3): versitygw is not installed', () => {});
  it.each(stories)(
    'backs up to %s, drops a table by accident, restores to the restore point, and the table is back',
    async (_, args) => {
      const script = join(REPO_ROOT, 'dist', 'demo', 'main.js');
      expect(existsSync(script), `${script}: run npm run build first`).toBe(true);
      const before = new Set(await readdir(tmpdir()));
      const result = await exec(process.execPath, [script, ...args], {
        cwd: REPO_ROOT,
        env: { TMPDIR: tmpdir() },
        timeoutMs: 180_000,
      });
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toContain('all 1500 orders are back');
      expect(result.stdout).toContain('--archive-mode=off');
      expect(result.stdout).toContain('servers stopped, temp directories removed');
      if (args.includes('--repo=s3')) expect(result.stdout).toMatch(/repository +\/pgstash in bucket demo-/);
      const left = (await readdir(tmpdir())).filter((name) => !before.has(name) && name.includes('demo'));
      expect(left).toEqual([]);
    },
    200_000,
  );
});
