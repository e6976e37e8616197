// Tests for WorkerPool and serveJobs: results, errors across threads, pinned and exclusive jobs, concurrency, crash, abort.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgStashError, PgStashError } from '../../../../src/common/errors.js';
import { WorkerPool } from '../../../../src/io/worker/pool.js';
import { transpile } from '../../../harness/transpile.js';

/** The worker side: serveJobs from the transpiled source, answering a few kinds of job. */
const WORKER = `
import { threadId } from 'node:worker_threads';
import { serveJobs } from './src/io/worker/serve.js';
import { PgStashError } from './src/common/errors.js';
let running = 0;
let most = 0;
serveJobs(async (job) => {
  // CLOCK_MONOTONIC: one clock for every thread, unlike each thread's performance.timeOrigin.
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  const started = now();
  running++;
  most = Math.max(most, running);
  try {
    if (job.op === 'sleep') await new Promise((resolve) => setTimeout(resolve, job.ms));
    if (job.op === 'fail-pg') throw new PgStashError('fileMissing', 'no such file', { hint: 'look elsewhere' });
    if (job.op === 'fail-sys') throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    if (job.op === 'crash') setImmediate(() => { throw new Error('worker crashed'); });
    if (job.op === 'crash') await new Promise(() => undefined);
    return { value: job.value, threadId, most, started, finished: now() };
  } finally {
    running--;
  }
});
`;

interface Job {
  readonly op: 'echo' | 'sleep' | 'fail-pg' | 'fail-sys' | 'crash';
  readonly value?: number;
  readonly ms?: number;
}
interface Result {
  readonly value: number | undefined;
  readonly threadId: number;
  readonly most: number;
  /** When the job started and finished (ms on the monotonic clock all threads share). */
  readonly started: number;
  readonly finished: number;
}

let base: string;
let script: URL;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'pgstash-pool-'));
  await transpile(base, ['src/common/errors.ts', 'src/io/worker/protocol.ts', 'src/io/worker/serve.ts']);
  await writeFile(join(base, 'worker.mjs'), WORKER);
  script = pathToFileURL(join(base, 'worker.mjs'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Whatever `promise` rejects with (a test failure if it resolves). */
async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

function pool(options: {
  size: number;
  jobsPerWorker?: number;
  signal?: AbortSignal;
}): WorkerPool<Job, Result> {
  return new WorkerPool<Job, Result>(script, { workerData: undefined, ...options });
}

describe('WorkerPool', () => {
  it('runs jobs on every worker and returns their results', async () => {
    const workers = pool({ size: 2 });
    try {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, value) => workers.run({ op: 'sleep', ms: 20, value })),
      );
      expect(results.map((result) => result.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(new Set(results.map((result) => result.threadId)).size).toBe(2);
      // One job at a time per worker by default.
      expect(Math.max(...results.map((result) => result.most))).toBe(1);
    } finally {
      await workers.close();
    }
  });

  it('gives a worker up to jobsPerWorker jobs at once', async () => {
    const workers = pool({ size: 1, jobsPerWorker: 3 });
    try {
      expect(workers.capacity).toBe(3);
      expect(workers.submitAhead).toBe(4);
      const results = await Promise.all(
        Array.from({ length: 6 }, () => workers.run({ op: 'sleep', ms: 30 })),
      );
      expect(Math.max(...results.map((result) => result.most))).toBe(3);
    } finally {
      await workers.close();
    }
  });

  it('runs an exclusive job alone on an idle worker; jobs queued after it start only once it has', async () => {
    const workers = pool({ size: 2, jobsPerWorker: 2 });
    try {
      // Both workers busy, each with room for one more job.
      const first = [workers.run({ op: 'sleep', ms: 150 }), workers.run({ op: 'sleep', ms: 50 })];
      const exclusive = workers.run({ op: 'sleep', ms: 150, value: 99 }, { exclusive: true });
      const later = Array.from({ length: 4 }, (_, value) => workers.run({ op: 'sleep', ms: 10, value }));
      const [alone, ...rest] = await Promise.all([exclusive, ...later]);
      const [, short] = await Promise.all(first);
      expect(alone?.value).toBe(99);
      // Nothing else ran on its worker meanwhile (`most` is the most jobs that worker ever ran at once).
      expect(alone?.most).toBe(1);
      // The exclusive job is sent when the short job's worker falls idle, and the later jobs only after it: so
      // none of them starts before the short job finished. (Comparing with the exclusive job's own start would
      // race: it is sent first, but another thread may pick up its message later.)
      expect(alone?.started).toBeGreaterThanOrEqual(short?.finished ?? Infinity);
      for (const result of rest) expect(result.started).toBeGreaterThanOrEqual(short?.finished ?? Infinity);
    } finally {
      await workers.close();
    }
  });

  it('runs a job once on each worker with runOnEach', async () => {
    const workers = pool({ size: 3 });
    try {
      const busy = Array.from({ length: 5 }, () => workers.run({ op: 'sleep', ms: 10 }));
      const each = await workers.runOnEach({ op: 'echo' });
      await Promise.all(busy);
      expect(new Set(each.map((result) => result.threadId)).size).toBe(3);
    } finally {
      await workers.close();
    }
  });

  it('rebuilds errors: a PgStashError keeps its kind and hint, a system error its code', async () => {
    const workers = pool({ size: 1 });
    try {
      const pgError = await caught(workers.run({ op: 'fail-pg' }));
      expect(isPgStashError(pgError, 'fileMissing')).toBe(true);
      expect((pgError as PgStashError).message).toBe('no such file');
      expect((pgError as PgStashError).hint).toBe('look elsewhere');
      const sysError = await caught(workers.run({ op: 'fail-sys' }));
      expect(sysError).toBeInstanceOf(Error);
      expect((sysError as Error & { code?: string }).code).toBe('EACCES');
      // A failed job does not stop the pool.
      expect((await workers.run({ op: 'echo', value: 5 })).value).toBe(5);
    } finally {
      await workers.close();
    }
  });

  it('fails the running and every later job when a worker dies', async () => {
    const workers = pool({ size: 2 });
    try {
      const crashed = await caught(workers.run({ op: 'crash' }));
      expect((crashed as Error).message).toMatch(/worker crashed/);
      await expect(workers.run({ op: 'echo' })).rejects.toThrow(/worker crashed/);
    } finally {
      await workers.close();
    }
  });

  it('fails queued and running jobs with the abort reason, at once', async () => {
    const controller = new AbortController();
    const workers = pool({ size: 1, signal: controller.signal });
    try {
      const started = Date.now();
      const jobs = [workers.run({ op: 'sleep', ms: 10_000 }), workers.run({ op: 'sleep', ms: 10_000 })];
      const reason = new PgStashError('term', 'terminated by signal SIGTERM');
      controller.abort(reason);
      for (const job of jobs) expect(await caught(job)).toBe(reason);
      expect(Date.now() - started).toBeLessThan(5000);
      await expect(workers.run({ op: 'echo' })).rejects.toBe(reason);
    } finally {
      await workers.close();
    }
  });
});
