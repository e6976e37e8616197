// Damages a repository file the way a bad disk would: one flipped bit or byte in its middle, with a way back.
import { readFile, writeFile } from 'node:fs/promises';

/**
 * XORs the middle byte of `path` with `mask` and resolves to a function that writes the original back (calling
 * it twice is harmless).
 */
export async function flipMiddleByte(path: string, mask: number): Promise<() => Promise<void>> {
  const original = await readFile(path);
  const damaged = Buffer.from(original);
  const middle = Math.floor(damaged.length / 2);
  damaged[middle] = (damaged[middle] ?? 0) ^ mask;
  await writeFile(path, damaged);
  return () => writeFile(path, original);
}
