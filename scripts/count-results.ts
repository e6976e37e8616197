// Sums vitest JSON reports of the CI runs into one honest 'N passed, N failed' line (used by .ci/run).
//
// Usage: node dist/scripts/count-results.js <label> <vitest-exit-code> <report.json> [<label> <code> <report> ...]
//
// Counting rules, so that nothing that went wrong can hide:
// - every test whose status is 'passed' counts as passed, 'failed' as failed;
// - a test file that failed without a failing test (it did not load, a beforeAll/afterAll hook threw)
//   counts as one failure: its tests show up as 'skipped' in the report;
// - a run whose report is missing or unreadable, or whose vitest exited non-zero without any counted failure
//   (an unhandled error, a crash), counts as one failure, and so does a run that executed no test at all;
// - skipped and todo tests are reported; any skipped test fails the run (the project allows none: a suite
//   whose server is missing must fail, not skip).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface AssertionResult {
  readonly fullName?: string;
  readonly status: string;
  readonly failureMessages?: readonly string[];
}

/** Lines of a failure's message shown under its name: CI's summary is often all of a run a reader gets. */
const WHY_LINES = 4;
const WHY_WIDTH = 240;

/** The first lines of a failure message, without terminal colours, each cut to a readable width. */
export function failureExcerpt(message: string | undefined): string[] {
  return (
    (message ?? '')
      // eslint-disable-next-line no-control-regex
      .replace(/\u001b\[[0-9;]*m/g, '')
      .split('\n')
      .map((line) => line.trimEnd())
      .filter((line) => line.trim() !== '')
      .slice(0, WHY_LINES)
      .map((line) => (line.length > WHY_WIDTH ? `${line.slice(0, WHY_WIDTH)}...` : line))
  );
}

interface FileResult {
  readonly name: string;
  readonly status: string;
  readonly message?: string;
  readonly assertionResults: readonly AssertionResult[];
}

export interface RunCount {
  readonly label: string;
  passed: number;
  failed: number;
  skipped: number;
  /** One line for each failure: the test's name, or the file and what went wrong. */
  readonly problems: string[];
}

/** Counts one vitest run from its exit code and the text of its JSON report (undefined when missing). */
export function countRun(label: string, exitCode: number, reportText: string | undefined): RunCount {
  const count: RunCount = { label, passed: 0, failed: 0, skipped: 0, problems: [] };
  let files: readonly FileResult[];
  try {
    if (reportText === undefined) throw new Error('the JSON report is missing');
    files = parseReport(reportText);
  } catch (error) {
    count.failed += 1;
    count.problems.push(
      `the run left no usable report: ${error instanceof Error ? error.message : String(error)}`,
    );
    return count;
  }
  for (const file of files) {
    let failedHere = 0;
    for (const test of file.assertionResults) {
      if (test.status === 'passed') count.passed += 1;
      else if (test.status === 'failed') {
        count.failed += 1;
        failedHere += 1;
        const why = failureExcerpt(test.failureMessages?.[0]).map((line) => `\n    ${line}`);
        count.problems.push(`FAILED ${file.name} > ${test.fullName ?? '(unnamed test)'}${why.join('')}`);
      } else count.skipped += 1;
    }
    if (file.status === 'failed' && failedHere === 0) {
      count.failed += 1;
      const why = (file.message ?? '').split('\n')[0] ?? '';
      count.problems.push(`FAILED ${file.name} (the file failed outside its tests: ${why || 'no message'})`);
    }
  }
  if (count.passed + count.failed === 0) {
    count.failed += 1;
    count.problems.push('the run executed no test');
  }
  if (exitCode !== 0 && count.failed === 0) {
    count.failed += 1;
    count.problems.push(
      `vitest exited with code ${String(exitCode)} although no test failed (an unhandled error?)`,
    );
  }
  if (count.skipped > 0) count.problems.push(`${String(count.skipped)} test(s) skipped or todo: not allowed`);
  return count;
}

function parseReport(text: string): readonly FileResult[] {
  const report: unknown = JSON.parse(text);
  if (
    typeof report !== 'object' ||
    report === null ||
    !Array.isArray((report as { testResults?: unknown }).testResults)
  ) {
    throw new Error('the JSON report has no testResults array');
  }
  return (report as { testResults: FileResult[] }).testResults;
}

function main(argv: readonly string[]): number {
  if (argv.length === 0 || argv.length % 3 !== 0) {
    process.stderr.write('usage: count-results <label> <vitest-exit-code> <report.json> [...]\n');
    return 2;
  }
  const runs: RunCount[] = [];
  for (let i = 0; i < argv.length; i += 3) {
    const [label = '', code = '', path = ''] = argv.slice(i, i + 3);
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      text = undefined;
    }
    runs.push(countRun(label, Number.parseInt(code, 10), text));
  }
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const run of runs) {
    passed += run.passed;
    failed += run.failed;
    skipped += run.skipped;
    process.stdout.write(
      `${run.label}: ${String(run.passed)} passed, ${String(run.failed)} failed, ${String(run.skipped)} skipped\n`,
    );
    for (const problem of run.problems) process.stdout.write(`  ${problem}\n`);
  }
  process.stdout.write(
    `${String(passed)} passed, ${String(failed)} failed${skipped > 0 ? `, ${String(skipped)} skipped` : ''}\n`,
  );
  return failed > 0 || skipped > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
