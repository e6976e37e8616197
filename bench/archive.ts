// Case "archive": time each archive-push and archive-get of real 16 MiB WAL segments, one process per segment.
//
// PostgreSQL starts one archive_command (and one restore_command) process per segment, so process startup is
// part of what users pay. For each compression type both tools get a fresh repository and stanza, then push
// every segment and get every segment back, interleaved: segment i runs tool A then tool B, segment i+1 runs
// B then A, so machine noise and cache effects fall on both alike. The plain Node reference
// (plain-archive.cts) runs third on each segment.
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdirForPostgres } from '../test/harness/postgres-user.js';
import { createTempDir, removeTempDir } from '../test/harness/tmp.js';
import { duBytes } from './disk-usage.js';
import { measureOk, type Measurement } from './measure.js';
import type { BenchCompress } from './settings.js';
import { alternate, type Tool, type ToolName, type ToolRepo } from './tools.js';
import { WalSource } from './wal-source.js';

/** Measurements per tool, in run order. */
export type PerTool = Record<ToolName, Measurement[]>;

export interface ArchiveCompressResult {
  readonly compress: BenchCompress;
  readonly push: PerTool;
  readonly get: PerTool;
  /** The same segments through plain-archive.cjs: the data work alone, as straight-line Node. */
  readonly plain: { readonly push: Measurement[]; readonly get: Measurement[] };
  /** Bytes of the archive directory after all pushes (info files included), per tool. */
  readonly storedBytes: Record<ToolName, number>;
}

export interface ArchiveResults {
  readonly segments: number;
  readonly segmentBytes: number;
  /** `node -e 0`: the floor for any Node program started as a process. */
  readonly nodeBare: Measurement[];
  /** `<tool> version`: each tool's startup with no work. */
  readonly version: PerTool;
  readonly byCompress: ArchiveCompressResult[];
}

export interface ArchiveOptions {
  readonly tools: readonly [Tool, Tool];
  readonly segments: number;
  readonly compressTypes: readonly BenchCompress[];
  readonly progress: (text: string) => void;
}

const SEGMENT_BYTES = 16 * 1024 * 1024;
/** The compiled plain Node reference, next to this file in dist/bench. */
const PLAIN_ARCHIVE = join(dirname(fileURLToPath(import.meta.url)), 'plain-archive.cjs');
/** Startup reference runs per program. */
const REFERENCE_RUNS = 20;

export async function runArchiveCase(options: ArchiveOptions): Promise<ArchiveResults> {
  const source = await WalSource.create({ segments: options.segments, progress: options.progress });
  const scratch = await createTempDir({ label: 'bench-archive' });
  try {
    const { nodeBare, version } = await measureStartup(options.tools, scratch);
    const byCompress: ArchiveCompressResult[] = [];
    for (const compress of options.compressTypes) {
      byCompress.push(await measureCompress(compress, { ...options, source, scratch }));
    }
    return { segments: source.segments.length, segmentBytes: SEGMENT_BYTES, nodeBare, version, byCompress };
  } finally {
    await removeTempDir(scratch);
    await source.destroy();
  }
}

/** Fresh repositories for both tools, every segment pushed, then every segment fetched and compared. */
async function measureCompress(
  compress: BenchCompress,
  options: ArchiveOptions & { source: WalSource; scratch: string },
): Promise<ArchiveCompressResult> {
  const { source, scratch, progress } = options;
  const count = String(source.segments.length);
  progress(`archive ${compress}: stanza-create for both tools`);
  const repos: [ToolRepo, ToolRepo] = [
    await prepareRepo(options.tools[0], { scratch, source, compress }),
    await prepareRepo(options.tools[1], { scratch, source, compress }),
  ];
  const push = emptyPerTool();
  const plain = { push: [] as Measurement[], get: [] as Measurement[] };
  const plainDir = await mkdirForPostgres(join(scratch, `plain-${compress}`));
  /** What plain-archive.cjs push printed for each segment: its SHA-256, which its get checks. */
  const plainSha256 = new Map<string, string>();
  const plainStored = (segment: string): string => join(plainDir, `${segment}.${compress}`);
  progress(`archive ${compress}: archive-push of ${count} segments`);
  for (const [index, segment] of source.segments.entries()) {
    for (const repo of alternate(repos, index)) {
      const argv = repo.argv(['archive-push', source.path(segment)]);
      push[repo.tool.name].push(await measureOk(argv, { scratchDir: scratch }));
    }
    const argv = [
      process.execPath,
      PLAIN_ARCHIVE,
      'push',
      compress,
      source.path(segment),
      plainStored(segment),
    ];
    const measured = await measureOk(argv, { scratchDir: scratch });
    plain.push.push(measured);
    plainSha256.set(segment, measured.stdout.trim());
  }
  const get = emptyPerTool();
  progress(`archive ${compress}: archive-get of ${count} segments`);
  const getDir = await mkdirForPostgres(join(scratch, `get-${compress}`));
  for (const [index, segment] of source.segments.entries()) {
    for (const repo of alternate(repos, index)) {
      const destination = join(getDir, `${repo.tool.name}-${segment}`);
      const argv = repo.argv(['archive-get', segment, destination]);
      get[repo.tool.name].push(await measureOk(argv, { scratchDir: scratch }));
      await source.verify(segment, destination, repo.tool.label);
      await rm(destination);
    }
    const destination = join(getDir, `plain-${segment}`);
    const sha256 = plainSha256.get(segment) ?? '';
    const argv = [
      process.execPath,
      PLAIN_ARCHIVE,
      'get',
      compress,
      plainStored(segment),
      destination,
      sha256,
    ];
    plain.get.push(await measureOk(argv, { scratchDir: scratch }));
    await source.verify(segment, destination, 'plain Node');
    await rm(destination);
  }
  await rm(plainDir, { recursive: true });
  const storedBytes: Record<ToolName, number> = { pgstash: 0, pgbackrest: 0 };
  for (const repo of repos) {
    storedBytes[repo.tool.name] = await duBytes(repo.archiveDir);
    await removeTempDir(repo.dir);
  }
  return { compress, push, get, plain, storedBytes };
}

/** `node -e 0` and each tool's `version`, interleaved, after one untimed warm-up run of each. */
async function measureStartup(
  tools: readonly [Tool, Tool],
  scratch: string,
): Promise<{ nodeBare: Measurement[]; version: PerTool }> {
  const programs: [ToolName | 'node', readonly string[]][] = [
    ['node', [process.execPath, '-e', '0']],
    ...tools.map((tool): [ToolName, readonly string[]] => [tool.name, tool.versionArgv]),
  ];
  for (const [, argv] of programs) await measureOk(argv, { scratchDir: scratch });
  const nodeBare: Measurement[] = [];
  const version = emptyPerTool();
  for (let run = 0; run < REFERENCE_RUNS; run++) {
    for (const [name, argv] of run % 2 === 0 ? programs : [...programs].reverse()) {
      const measured = await measureOk(argv, { scratchDir: scratch });
      if (name === 'node') nodeBare.push(measured);
      else version[name].push(measured);
    }
  }
  return { nodeBare, version };
}

async function prepareRepo(
  tool: Tool,
  options: { scratch: string; source: WalSource; compress: BenchCompress },
): Promise<ToolRepo> {
  const dir = await createTempDir({ label: `bench-${tool.name}-${options.compress}` });
  const repo = await tool.prepare(dir, { cluster: options.source.cluster, compress: options.compress });
  await measureOk(repo.argv(['stanza-create']), { scratchDir: options.scratch });
  return repo;
}

function emptyPerTool(): PerTool {
  return { pgstash: [], pgbackrest: [] };
}
