// The newest backup's figures from `info --output=json`, as pgstash and pgBackRest 2.45 write it.
import { describe, expect, it } from 'vitest';
import { newestBackup } from '../../../bench/backup-info.js';

/** In the shape `pgbackrest info --output=json` (2.45) writes, trimmed to the keys read: a full and an incr. */
const PGBACKREST = JSON.stringify([
  {
    name: 'bench',
    backup: [
      {
        label: '20261206-161000F',
        type: 'full',
        info: { delta: 24117248, repository: { delta: 9650000, size: 9650000 }, size: 24117248 },
        prior: null,
      },
      {
        label: '20261206-161000F_20261206-161010I',
        type: 'incr',
        info: { delta: 48431104, repository: { delta: 5347737, size: 9712000 }, size: 24150016 },
        prior: '20261206-161000F',
      },
    ],
    status: { code: 0, message: 'ok' },
  },
]);

describe('newestBackup', () => {
  it('reads the last (newest) backup of the stanza', () => {
    expect(newestBackup(PGBACKREST)).toEqual({
      label: '20261206-161000F_20261206-161010I',
      type: 'incr',
      size: 24150016,
      delta: 48431104,
      repoDelta: 5347737,
    });
  });

  it('refuses a stanza without backups and a backup without figures, quoting what it got', () => {
    expect(() => newestBackup('[{"name":"bench","backup":[]}]')).toThrow('info lists no backup');
    expect(() => newestBackup('[]')).toThrow('info lists no backup');
    expect(() => newestBackup('[{"backup":[{"label":"x","type":"full","info":{"size":1}}]}]')).toThrow(
      'unexpected backup in info: {"label":"x"',
    );
  });
});
