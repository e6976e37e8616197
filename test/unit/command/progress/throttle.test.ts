// Tests for Throttle and the reporter's timing with an injected clock: one log line and one record per interval.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProgressReporter } from '../../../../src/command/progress/reporter.js';
import { Throttle } from '../../../../src/command/progress/throttle.js';
import type { ProgressFigures } from '../../../../src/command/progress/figures.js';
import { log } from '../../../../src/common/log.js';

describe('Throttle', () => {
  it('is due first one interval after it starts, then at most once per interval', () => {
    let now = 1000;
    const throttle = new Throttle(10_000, () => now);
    const dueAt: number[] = [];
    for (; now <= 41_000; now += 500) if (throttle.due()) dueAt.push(now);
    expect(dueAt).toEqual([11_000, 21_000, 31_000, 41_000]);
  });

  it('counts from when it was last due, not on a fixed grid (a late tick does not bring two close together)', () => {
    let now = 0;
    const throttle = new Throttle(10_000, () => now);
    now = 15_000;
    expect(throttle.due()).toBe(true);
    now = 20_000;
    expect(throttle.due()).toBe(false);
    now = 25_000;
    expect(throttle.due()).toBe(true);
  });
});

describe('ProgressReporter', () => {
  afterEach(() => vi.restoreAllMocks());

  it('logs one info line and writes one record per interval, with the figures of the moment', async () => {
    let now = 0;
    const records: ProgressFigures[] = [];
    const lines: string[] = [];
    vi.spyOn(log, 'info').mockImplementation((message) => void lines.push(message));
    const reporter = new ProgressReporter({
      command: 'backup',
      settings: { intervalMs: 10_000, live: false },
      now: () => now,
      record: (figures) => {
        records.push(figures);
        return Promise.resolve();
      },
    });
    reporter.start({ bytes: 1000 * 1024 * 1024, files: 100 });
    await reporter.stop({ final: false }).catch(() => undefined); // stops the real timer; ticks are driven below
    expect(records).toHaveLength(1); // the start
    expect(records[0]?.percent).toBe(0);
    for (let second = 1; second <= 30; second++) {
      now = second * 1000;
      reporter.counter.add(10 * 1024 * 1024); // 10 MiB/s, as worker threads would add
      if (second % 3 === 0) reporter.filesDone(1);
      reporter.tick();
      await Promise.resolve();
    }
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('backup progress: 10.0% of 1000.0MB, 10.0MB/s, ETA 1:30, 3/100 files');
    expect(lines[2]).toBe('backup progress: 30.0% of 1000.0MB, 10.0MB/s, ETA 1:10, 10/100 files');
    expect(records.map((figures) => figures.percent)).toEqual([0, 10, 20, 30]);
  });

  it('counts bytes of reused files given by the main thread, and takes a vanished file out of the totals', () => {
    const reporter = new ProgressReporter({
      command: 'backup',
      settings: { intervalMs: 10_000, live: false },
    });
    reporter.start({ bytes: 300, files: 3 });
    reporter.filesDone(1, 100);
    reporter.skipped(100);
    const figures = reporter.figures();
    void reporter.stop({ final: false });
    expect(figures).toMatchObject({
      bytesDone: 100,
      bytesTotal: 200,
      filesDone: 1,
      filesTotal: 2,
      percent: 50,
    });
  });

  it('never has two records in flight, and records once more at the end when asked', async () => {
    let now = 0;
    let release: () => void = () => undefined;
    let calls = 0;
    const reporter = new ProgressReporter({
      command: 'backup',
      settings: { intervalMs: 1000, live: false },
      now: () => now,
      record: () => {
        calls++;
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    reporter.start({ bytes: 10, files: 1 });
    expect(calls).toBe(1);
    now = 5000;
    reporter.tick(); // due, but the first record is still being written
    expect(calls).toBe(1);
    const stopping = reporter.stop({ final: true });
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(2);
    release();
    await stopping;
  });
});
