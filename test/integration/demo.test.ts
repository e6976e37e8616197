// The README's first command: `npm run demo` (dist/demo/main.js) runs its whole story and cleans up after itself.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exec } from '../harness/exec.js';
import { REPO_ROOT } from '../harness/pgstash.js';

describe('npm run demo', () => {
  it('backs up, drops a table by accident, restores to the restore point, and the table is back', async () => {
    const script = join(REPO_ROOT, 'dist', 'demo', 'main.js');
    expect(existsSync(script), `${script}: run npm run build first`).toBe(true);
    const before = new Set(await readdir(tmpdir()));
    const result = await exec(process.execPath, [script], {
      cwd: REPO_ROOT,
      env: { TMPDIR: tmpdir() },
      timeoutMs: 180_000,
    });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('all 1500 orders are back');
    expect(result.stdout).toContain('--archive-mode=off');
    expect(result.stdout).toContain('servers stopped, temp directories removed');
    const left = (await readdir(tmpdir())).filter((name) => !before.has(name) && name.includes('demo'));
    expect(left).toEqual([]);
  }, 200_000);
});
