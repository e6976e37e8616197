// Child processes (another user, strace, a resource limit) cannot load TypeScript: transpile a module and its
// project imports into a directory as plain ESM, with the same relative layout.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from './pgstash.js';

export async function transpile(outDir: string, files: readonly string[]): Promise<void> {
  for (const file of files) {
    const source = await readFile(join(REPO_ROOT, file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    });
    const target = join(outDir, file.replace(/\.ts$/, '.js'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, outputText);
  }
  await writeFile(join(outDir, 'package.json'), '{ "type": "module" }\n');
}
