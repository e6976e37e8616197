// The file log: one JSON line per message in pino's former format, filtered by level, secrets redacted.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeLog, configureLog, log } from '../../../src/common/log.js';
import { tempDirPrefix } from '../../harness/tmp.js';

describe('file log', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), `${tempDirPrefix()}log-`));
  });

  afterEach(async () => {
    closeLog();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes JSON lines with level, time, pid, command, stanza, the fields and msg, at the file level and above', async () => {
    await configureLog({
      command: 'archive-push',
      stanza: 'main',
      console: 'off',
      stderr: 'off',
      file: 'info',
      path: dir,
    });
    log.detail('below the file level');
    log.info('pushed', { systemId: 7n, nested: { repo1Key: 'hidden', size: 3 } });
    log.error('failed');
    closeLog();
    const lines = (await readFile(join(dir, 'main-archive-push.log'), 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    expect(Object.keys(first)).toEqual([
      'level',
      'time',
      'pid',
      'command',
      'stanza',
      'systemId',
      'nested',
      'msg',
    ]);
    expect(first).toMatchObject({
      level: 'info',
      pid: process.pid,
      command: 'archive-push',
      stanza: 'main',
      systemId: '7',
      nested: { repo1Key: '<redacted>', size: 3 },
      msg: 'pushed',
    });
    expect(new Date(String(first['time'])).toISOString()).toBe(first['time']);
    expect(lines[1]).toMatch(
      /^\{"level":"error","time":"[^"]+","pid":\d+,"command":"archive-push","stanza":"main","msg":"failed"\}$/,
    );
  });

  it('leaves the stanza out when there is none', async () => {
    await configureLog({ command: 'version', console: 'off', stderr: 'off', file: 'detail', path: dir });
    log.detail('hello');
    closeLog();
    const line = JSON.parse(await readFile(join(dir, 'all-version.log'), 'utf8')) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'detail', command: 'version', msg: 'hello' });
    expect('stanza' in line).toBe(false);
  });
});
