// writeConsole: every byte reaches a slow reader through a non-blocking pipe (a lost log line was found this way),
// and a reader that went away does not fail the writer.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transpile } from '../../harness/transpile.js';

/** Touches process.stdout (Node then makes the pipe non-blocking), then writes `count` lines with writeConsole. */
const SCRIPT = `
import { writeConsole } from './src/common/console-write.js';
const count = Number(process.argv[2]);
void process.stdout;
for (let i = 0; i < count; i++) writeConsole(1, 'line ' + i + ' ' + 'x'.repeat(100) + '\\n');
writeConsole(2, 'done\\n');
`;

let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'pgstash-console-'));
  await transpile(base, ['src/common/errors.ts', 'src/common/console-write.ts']);
  await writeFile(join(base, 'script.mjs'), SCRIPT);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('writeConsole', () => {
  it('writes every line through a full non-blocking pipe whose reader is slow', async () => {
    const child = spawn(process.execPath, [join(base, 'script.mjs'), '20000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Nobody reads for a while: the pipe fills (64 KiB) long before the 2.2 MB are written.
    child.stdout.pause();
    await sleep(500);
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    const lines = Buffer.concat(chunks)
      .toString('utf8')
      .split('\n')
      .filter((line) => line !== '');
    expect(lines).toHaveLength(20000);
    expect(lines.at(-1)).toMatch(/^line 19999 x+$/);
  });

  it('gives up silently when the reader is gone', async () => {
    const child = spawn(process.execPath, [join(base, 'script.mjs'), '20000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    const stderr: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(Buffer.concat(stderr).toString('utf8')).toBe('done\n');
  });
});
