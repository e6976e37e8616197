// Tests for info's archive report: a damaged timeline history file is listed as such, and hides no other timeline.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  collectArchiveHealth,
  timelineLines,
  unreadableTimelineJson,
} from '../../../../src/command/info/archive-health.js';
import { repoLayout } from '../../../../src/repo/layout.js';
import { Repository } from '../../../../src/repo/repository.js';
import { createTempDir, removeTempDir } from '../../../harness/tmp.js';
import { repoOptions } from '../../../harness/repository.js';

const ID = '15-1';
let root: string;

beforeAll(async () => {
  root = await createTempDir({ label: 'archive-health' });
});

afterAll(async () => {
  await removeTempDir(root);
});

/** Stores `content` uncompressed as the history file `name`, named with `sha256` (its own unless given). */
async function storeHistory(path: string, name: string, content: string, sha256?: string): Promise<void> {
  const dir = join(path, repoLayout.archiveIdPath('main', ID));
  await mkdir(dir, { recursive: true });
  const sum = sha256 ?? createHash('sha256').update(content).digest('hex');
  await writeFile(join(dir, `${name}-${sum}`), content);
}

describe('collectArchiveHealth', () => {
  it('lists a timeline whose history file is damaged as such, and still the others', async () => {
    const path = join(root, 'repo');
    const repo = await Repository.openInWorker(repoOptions(path), 'main', undefined);
    await storeHistory(path, '00000002.history', '1\t0/3000000\tno recovery target specified\n');
    // Its name records another content: the checksum check fails, as for a file damaged in the repository.
    await storeHistory(path, '00000003.history', '1\t0/3000000\tx\n2\t0/5000000\ty\n', 'b'.repeat(64));
    await storeHistory(path, '00000004.history', '1\t0/3000000\tx\n3\t0/7000000\tafter 3\n');

    const health = await collectArchiveHealth(repo, [{ id: ID, dbId: 1 }], []);
    expect(health.timelines.map((entry) => entry.timeline)).toEqual([2, 4]);
    expect(health.unreadable.map((entry) => entry.timeline)).toEqual([3]);

    const lines = timelineLines(health, ID);
    expect(lines[0]).toBe('        timelines (15-1): 1, 2, 3, 4');
    expect(lines.join('\n')).toMatch(
      /timeline 3: its history file cannot be read \('.*00000003\.history-b{64}' is corrupt: .*\); a recovery that follows timeline 3 stops at it/,
    );
    expect(unreadableTimelineJson(health.unreadable[0]!, 1)).toMatchObject({
      id: 3,
      'archive-id': ID,
      'repo-key': 1,
      parent: null,
      error: expect.stringMatching(/00000003\.history-b{64}' is corrupt/) as unknown,
    });
  });
});
