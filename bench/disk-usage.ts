// Bytes a directory tree takes, as `du -sb` counts them (apparent sizes), for repository and data sizes.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export async function duBytes(path: string): Promise<number> {
  const { stdout } = await execFileAsync('du', ['-sb', path]);
  const bytes = Number(stdout.split('\t')[0]);
  if (!Number.isFinite(bytes)) throw new Error(`unexpected output of 'du -sb ${path}': '${stdout.trim()}'`);
  return bytes;
}
