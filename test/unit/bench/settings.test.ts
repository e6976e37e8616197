// PGSTASH_BENCH_* settings: defaults for a full run, validation with the variable's name in the message.
import { describe, expect, it } from 'vitest';
import { readSettings } from '../../../bench/settings.js';

describe('readSettings', () => {
  it('defaults to the full benchmark', () => {
    expect(readSettings({})).toEqual({
      cases: [
        'archive',
        'backup',
        'hot-set',
        'scattered',
        'resume',
        'delta-restore',
        'chain',
        's3',
        'verify',
        'archive-async',
      ],
      scale: 50,
      segments: 20,
      compressTypes: ['lz4', 'zst'],
      processMax: [1, 2],
      runs: 1,
      block: 'auto',
      chainLength: 30,
      archiveSeconds: 30,
      bundle: false,
      resultsDir: '.bench',
    });
  });

  it('reads a quick development run', () => {
    const settings = readSettings({
      PGSTASH_BENCH_CASES: 'backup',
      PGSTASH_BENCH_SCALE: '5',
      PGSTASH_BENCH_SEGMENTS: '4',
      PGSTASH_BENCH_COMPRESS: 'zst, lz4,zst',
      PGSTASH_BENCH_PROCESS_MAX: '2',
      PGSTASH_BENCH_RUNS: '3',
      PGSTASH_BENCH_RESULTS_DIR: '/tmp/out',
      PGSTASH_BENCH_BLOCK: 'off',
      PGSTASH_BENCH_CHAIN: '3',
      PGSTASH_BENCH_ARCHIVE_SECONDS: '5',
      PGSTASH_BENCH_BUNDLE: 'y',
    });
    expect(settings).toEqual({
      cases: ['backup'],
      scale: 5,
      segments: 4,
      compressTypes: ['zst', 'lz4'],
      processMax: [2],
      runs: 3,
      block: 'off',
      chainLength: 3,
      archiveSeconds: 5,
      bundle: true,
      resultsDir: '/tmp/out',
    });
  });

  it('selects single incremental scenarios, so that one of them can run alone', () => {
    expect(readSettings({ PGSTASH_BENCH_CASES: 'hot-set,delta-restore' }).cases).toEqual([
      'hot-set',
      'delta-restore',
    ]);
  });

  it('names the variable and what it accepts when a value is invalid', () => {
    expect(() => readSettings({ PGSTASH_BENCH_CASES: 'archive,restore' })).toThrow(
      "invalid PGSTASH_BENCH_CASES 'archive,restore': expected a comma-separated list of archive, backup, " +
        'hot-set, scattered, resume, delta-restore, chain',
    );
    expect(() => readSettings({ PGSTASH_BENCH_SCALE: '0' })).toThrow(
      "invalid PGSTASH_BENCH_SCALE '0': expected an integer from 1 to 10000",
    );
    expect(() => readSettings({ PGSTASH_BENCH_SEGMENTS: '2.5' })).toThrow('PGSTASH_BENCH_SEGMENTS');
    expect(() => readSettings({ PGSTASH_BENCH_COMPRESS: 'gz' })).toThrow('PGSTASH_BENCH_COMPRESS');
    expect(() => readSettings({ PGSTASH_BENCH_PROCESS_MAX: '1,x' })).toThrow('PGSTASH_BENCH_PROCESS_MAX');
    expect(() => readSettings({ PGSTASH_BENCH_BLOCK: 'yes' })).toThrow(
      "invalid PGSTASH_BENCH_BLOCK 'yes': expected one of auto, on, off",
    );
    expect(() => readSettings({ PGSTASH_BENCH_BUNDLE: 'yes' })).toThrow(
      "invalid PGSTASH_BENCH_BUNDLE 'yes': expected one of y, n",
    );
    expect(() => readSettings({ PGSTASH_BENCH_CHAIN: '0' })).toThrow('PGSTASH_BENCH_CHAIN');
    expect(() => readSettings({ PGSTASH_BENCH_ARCHIVE_SECONDS: '0' })).toThrow(
      "invalid PGSTASH_BENCH_ARCHIVE_SECONDS '0': expected an integer from 1 to 3600",
    );
  });
});
