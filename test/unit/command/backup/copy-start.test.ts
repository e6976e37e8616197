// Tests for a backup's start second: the current one when what was modified in it is small (nothing to wait for),
// the next one when a large file was modified in it (the next incr could not trust it), never before the label's
// second; and the wait for it, after which a write gets an mtime at or after the start.
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  copyStart,
  RECENT_BYTES_MAX,
  START_MARGIN_MS,
  untilStarted,
} from '../../../../src/command/backup/copy-start.js';
import { createTempDir, removeTempDir } from '../../../harness/tmp.js';

const SECOND = 1_800_000_000;
const at = (second: number, ms = 0): number => second * 1000 + ms;
const date = (second: number): Date => new Date(at(second));

describe('copyStart', () => {
  it('is the current second when nothing listed was modified in it', () => {
    const files = [
      { mtime: SECOND - 1, size: 1 << 30 },
      { mtime: SECOND - 60, size: 8192 },
    ];
    expect(copyStart(date(SECOND - 2), at(SECOND, 400), files)).toEqual(date(SECOND));
  });

  it('is the current second when what was modified in it is small (a checkpoint of a quiet cluster)', () => {
    const files = [
      { mtime: SECOND, size: 16 },
      { mtime: SECOND, size: RECENT_BYTES_MAX - 16 },
      { mtime: SECOND - 1, size: 1 << 30 },
    ];
    expect(copyStart(date(SECOND), at(SECOND, 700), files)).toEqual(date(SECOND));
  });

  it('is the next second when more than RECENT_BYTES_MAX was modified in the current one (or later)', () => {
    const files = [
      { mtime: SECOND, size: RECENT_BYTES_MAX },
      { mtime: SECOND + 3, size: 1 },
    ];
    expect(copyStart(date(SECOND), at(SECOND, 700), files)).toEqual(date(SECOND + 1));
  });

  it("is never before the label's second (one taken a second ahead, after a backup a second ago)", () => {
    expect(copyStart(date(SECOND + 1), at(SECOND, 200), [])).toEqual(date(SECOND + 1));
    // A resumed backup's label names an earlier second: its start is the one the copy picks.
    expect(copyStart(new Date(at(SECOND - 100, 250)), at(SECOND, 10), [])).toEqual(date(SECOND));
  });
});

describe('untilStarted', () => {
  let root: string;
  beforeEach(async () => {
    root = await createTempDir({ label: 'copy-start' });
  });
  afterEach(async () => {
    await removeTempDir(root);
  });

  it('resolves once the start and the margin have passed, and at once after that', async () => {
    const started = new Date((Math.floor(Date.now() / 1000) + 1) * 1000);
    await untilStarted(started);
    expect(Date.now()).toBeGreaterThanOrEqual(started.getTime() + START_MARGIN_MS);
    const again = Date.now();
    await untilStarted(started);
    expect(Date.now() - again).toBeLessThan(START_MARGIN_MS);
  });

  it('a file written once it resolves has an mtime at or after the start second', async () => {
    const started = new Date((Math.floor(Date.now() / 1000) + 1) * 1000);
    await untilStarted(started);
    const file = join(root, 'written-after');
    await writeFile(file, 'x');
    expect(Math.floor((await stat(file)).mtimeMs / 1000)).toBeGreaterThanOrEqual(started.getTime() / 1000);
  });
});
