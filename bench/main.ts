// `npm run bench`: pgstash side by side with pgBackRest on the same data in the same run (docs/benchmark.md).
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { removeAllTempDirs } from '../test/harness/tmp.js';
import { runArchiveCase, type ArchiveResults } from './archive.js';
import { runArchiveAsyncCase, type AsyncArchiveResults } from './archive-async.js';
import { REPO_ROOT as CHECKOUT } from '../test/harness/pgstash.js';
import { runBackupCase, type BackupResults } from './backup.js';
import { blockMode } from './block-mode.js';
import { runIncrementalCases, type IncrementalResults } from './incremental.js';
import { checkPrerequisites } from './prerequisites.js';
import { renderReport } from './report.js';
import { runS3Case, type S3Results } from './s3.js';
import { INCREMENTAL_CASES, readSettings } from './settings.js';
import { runVerifyCase, type VerifyResults } from './verify.js';
import { pgbackrest, pgstash, type Tool } from './tools.js';

const startedAt = Date.now();

function progress(text: string): void {
  const elapsed = ((Date.now() - startedAt) / 1000).toFixed(0).padStart(5);
  process.stderr.write(`[${elapsed} s] ${text}\n`);
}

async function main(): Promise<void> {
  const settings = readSettings();
  const environment = checkPrerequisites();
  const tools: readonly [Tool, Tool] = [pgstash, pgbackrest(environment.pgbackrestBin)];
  const incrementalCases = INCREMENTAL_CASES.filter((name) => settings.cases.includes(name));
  // Before any work: PGSTASH_BENCH_BLOCK=on with a pgstash that has no block incremental stops here.
  const block = blockMode(settings.block);
  progress(
    `${environment.versions.pgstash} vs ${environment.versions.pgbackrest}; cases ${settings.cases.join(',')}`,
  );
  const load = [{ when: 'at start', load1: loadavg()[0] ?? 0 }];
  let archive: ArchiveResults | undefined;
  let backup: BackupResults | undefined;
  let incremental: IncrementalResults | undefined;
  let s3: S3Results | undefined;
  let verify: VerifyResults | undefined;
  let archiveAsync: AsyncArchiveResults | undefined;
  let failure: unknown;
  try {
    if (settings.cases.includes('archive')) {
      archive = await runArchiveCase({
        tools,
        segments: settings.segments,
        compressTypes: settings.compressTypes,
        progress,
      });
      load.push({ when: 'after archive', load1: loadavg()[0] ?? 0 });
    }
    if (settings.cases.includes('backup')) {
      backup = await runBackupCase({
        tools,
        scale: settings.scale,
        compressTypes: settings.compressTypes,
        processMax: settings.processMax,
        runs: settings.runs,
        bundle: settings.bundle,
        progress,
      });
      load.push({ when: 'after backup', load1: loadavg()[0] ?? 0 });
    }
    if (incrementalCases.length > 0) {
      incremental = await runIncrementalCases({
        tools,
        scale: settings.scale,
        compressTypes: settings.compressTypes,
        cases: incrementalCases,
        block,
        chainLength: settings.chainLength,
        runs: settings.runs,
        progress,
      });
      load.push({ when: 'after incremental scenarios', load1: loadavg()[0] ?? 0 });
      if (incremental.failure !== undefined) failure = new Error(incremental.failure);
    }
    if (settings.cases.includes('s3') && failure === undefined) {
      s3 = await runS3Case({
        tools,
        scale: settings.scale,
        compressTypes: settings.compressTypes,
        processMax: Math.max(...settings.processMax),
        runs: settings.runs,
        bundle: settings.bundle,
        segments: settings.segments,
        progress,
      });
      load.push({ when: 'after s3', load1: loadavg()[0] ?? 0 });
    }
    if (settings.cases.includes('verify') && failure === undefined) {
      verify = await runVerifyCase({
        tools,
        scale: settings.scale,
        compressTypes: settings.compressTypes,
        processMax: Math.max(...settings.processMax),
        progress,
      });
      load.push({ when: 'after verify', load1: loadavg()[0] ?? 0 });
    }
    if (settings.cases.includes('archive-async') && failure === undefined) {
      archiveAsync = await runArchiveAsyncCase({
        tools,
        compressTypes: settings.compressTypes,
        loadSeconds: settings.archiveSeconds,
        progress,
      });
      load.push({ when: 'after archive-async', load1: loadavg()[0] ?? 0 });
    }
  } catch (error) {
    failure = error;
  } finally {
    await removeAllTempDirs();
  }
  if (
    archive !== undefined ||
    backup !== undefined ||
    incremental !== undefined ||
    s3 !== undefined ||
    verify !== undefined ||
    archiveAsync !== undefined
  ) {
    let report = renderReport({
      settings,
      environment,
      started: new Date(startedAt),
      elapsedMs: Date.now() - startedAt,
      load,
      ...(archive === undefined ? {} : { archive }),
      ...(backup === undefined ? {} : { backup }),
      ...(incremental === undefined ? {} : { incremental }),
      ...(s3 === undefined ? {} : { s3 }),
      ...(verify === undefined ? {} : { verify }),
      ...(archiveAsync === undefined ? {} : { archiveAsync }),
    });
    if (failure !== undefined) report += `\n**The run failed before it finished:** ${messageOf(failure)}\n`;
    const dir = isAbsolute(settings.resultsDir) ? settings.resultsDir : join(CHECKOUT, settings.resultsDir);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `results-${stamp(new Date(startedAt))}.md`);
    await writeFile(file, report);
    process.stdout.write(`\n${report}\n`);
    progress(`results written to '${file}'`);
  }
  if (failure !== undefined) throw failure;
}

/** 2026-11-21T10:15:00Z -> 20261121-101500, for file names that sort by time. */
function stamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replaceAll('-', '')
    .replaceAll(':', '')
    .replace('T', '-');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`\nbenchmark failed: ${messageOf(error)}\n`);
    process.exit(1);
  },
);
