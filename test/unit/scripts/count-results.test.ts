// Tests the CI result counter on reports shaped like vitest's JSON reporter output.
import { describe, expect, test } from 'vitest';
import { countRun } from '../../../scripts/count-results.js';

function report(
  files: { name: string; status: string; message?: string; tests: [string, string][] }[],
): string {
  return JSON.stringify({
    numTotalTests: 0,
    success: false,
    testResults: files.map((file) => ({
      name: file.name,
      status: file.status,
      message: file.message ?? '',
      assertionResults: file.tests.map(([fullName, status]) => ({ fullName, status })),
    })),
  });
}

describe('countRun', () => {
  test('counts passed and failed tests and names the failures', () => {
    const text = report([
      {
        name: '/r/a.test.ts',
        status: 'failed',
        tests: [
          ['a ok', 'passed'],
          ['a bad', 'failed'],
          ['a ok2', 'passed'],
        ],
      },
      { name: '/r/b.test.ts', status: 'passed', tests: [['b ok', 'passed']] },
    ]);
    const count = countRun('node20', 1, text);
    expect(count).toMatchObject({ label: 'node20', passed: 3, failed: 1, skipped: 0 });
    expect(count.problems).toEqual(['FAILED /r/a.test.ts > a bad']);
  });

  test('a failure shows the first lines of its message, without colours', () => {
    const text = JSON.stringify({
      testResults: [
        {
          name: '/r/a.test.ts',
          status: 'failed',
          assertionResults: [
            {
              fullName: 'a bad',
              status: 'failed',
              failureMessages: [
                '\u001b[31mError\u001b[39m: exited 124\n\nstderr: aborted\n  at x\n  at y\n  at z',
                'second',
              ],
            },
          ],
        },
      ],
    });
    expect(countRun('run', 1, text).problems).toEqual([
      'FAILED /r/a.test.ts > a bad\n    Error: exited 124\n    stderr: aborted\n      at x\n      at y',
    ]);
  });

  test('a file that failed to load counts as one failure', () => {
    const text = report([
      { name: '/r/a.test.ts', status: 'passed', tests: [['a ok', 'passed']] },
      { name: '/r/b.test.ts', status: 'failed', message: "Cannot find module './x.js'\nstack", tests: [] },
    ]);
    const count = countRun('run', 1, text);
    expect(count).toMatchObject({ passed: 1, failed: 1, skipped: 0 });
    expect(count.problems[0]).toContain("Cannot find module './x.js'");
  });

  test('a failing beforeAll counts as a failure although its tests show as skipped', () => {
    const text = report([
      { name: '/r/c.test.ts', status: 'failed', message: 'hook fail', tests: [['y', 'skipped']] },
    ]);
    expect(countRun('run', 1, text)).toMatchObject({ passed: 0, failed: 1, skipped: 1 });
  });

  test('a missing or broken report counts as a failure', () => {
    expect(countRun('run', 1, undefined)).toMatchObject({ passed: 0, failed: 1 });
    expect(countRun('run', 1, '{"truncated')).toMatchObject({ passed: 0, failed: 1 });
    expect(countRun('run', 0, '{}')).toMatchObject({ passed: 0, failed: 1 });
  });

  test('a non-zero exit without a failed test counts as a failure', () => {
    const text = report([{ name: '/r/a.test.ts', status: 'passed', tests: [['a ok', 'passed']] }]);
    expect(countRun('run', 0, text)).toMatchObject({ passed: 1, failed: 0 });
    const count = countRun('run', 1, text);
    expect(count).toMatchObject({ passed: 1, failed: 1 });
    expect(count.problems[0]).toContain('exited with code 1');
  });

  test('a run that executed no test counts as a failure', () => {
    expect(countRun('run', 0, report([]))).toMatchObject({ passed: 0, failed: 1 });
  });

  test('skipped and todo tests are counted and reported', () => {
    const text = report([
      {
        name: '/r/a.test.ts',
        status: 'passed',
        tests: [
          ['a ok', 'passed'],
          ['a s', 'skipped'],
          ['a t', 'todo'],
        ],
      },
    ]);
    const count = countRun('run', 0, text);
    expect(count).toMatchObject({ passed: 1, failed: 0, skipped: 2 });
    expect(count.problems).toEqual(['2 test(s) skipped or todo: not allowed']);
  });
});
