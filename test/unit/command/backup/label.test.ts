// Tests for the new backup's label and start time: a whole second after the call, so that a file written just
// before the backup began has an mtime below the start second that the next incr trusts (prior-reuse.ts).
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLabel } from '../../../../src/command/backup/label.js';
import type { BackupInfo } from '../../../../src/repo/backup-info.js';
import { backupLabel } from '../../../../src/repo/label.js';
import type { Repository } from '../../../../src/repo/repository.js';
import { emptyStanza, TEST_DB } from '../../../harness/repository.js';

let root: string;
let repo: Repository;
const info = { ...TEST_DB, backups: [] } as unknown as BackupInfo;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'pgstash-label-'));
  repo = await emptyStanza(join(root, 'repo'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('createLabel', () => {
  it('starts on the whole second after the call, and the label names that second', async () => {
    const called = Date.now();
    const { label, started } = await createLabel(repo, 'full', info);
    expect(started.getTime() % 1000).toBe(0);
    expect(started.getTime()).toBeGreaterThan(called);
    expect(started.getTime() - called).toBeLessThanOrEqual(1000);
    expect(Date.now()).toBeGreaterThanOrEqual(started.getTime());
    expect(label).toBe(backupLabel('full', started));
  });

  it('a file written just before the backup began has an mtime below its start second', async () => {
    const file = join(root, 'written-just-before');
    await writeFile(file, 'x');
    const { started } = await createLabel(repo, 'full', info);
    const mtime = Math.floor((await stat(file)).mtimeMs / 1000);
    expect(mtime).toBeLessThan(Math.floor(started.getTime() / 1000));
  });

  it('never reuses a label listed in backup.info: waits for the next second', async () => {
    const first = await createLabel(repo, 'full', info);
    const listed = { ...info, backups: [{ label: first.label }] } as unknown as BackupInfo;
    const second = await createLabel(repo, 'full', listed);
    expect(second.label).not.toBe(first.label);
    expect(second.started.getTime() % 1000).toBe(0);
  });
});
