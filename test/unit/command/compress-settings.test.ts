// compress-type and compress-level, or a repository's own repoN-compress-type and repoN-compress-level.
import { describe, expect, it } from 'vitest';
import { compressSettings } from '../../../src/command/compress-settings.js';
import { loadConfig } from '../../../src/config/load.js';

const ENV = {
  PGSTASH_STANZA: 'main',
  PGSTASH_REPO1_PATH: '/repo1',
  PGSTASH_REPO2_PATH: '/repo2',
  PGSTASH_COMPRESS_TYPE: 'gz',
  PGSTASH_COMPRESS_LEVEL: '9',
};

function settingsByRepo(env: Record<string, string>): unknown[] {
  const config = loadConfig(['--no-config', 'archive-push', '/pg/pg_wal/000000010000000000000001'], {
    ...ENV,
    ...env,
  });
  return config.repos.map((repo) => compressSettings(config, repo));
}

describe('compressSettings', () => {
  it("takes a repository's own type, with its level or that type's default, and compress-type elsewhere", () => {
    expect(settingsByRepo({ PGSTASH_REPO2_COMPRESS_TYPE: 'lz4' })).toEqual([
      { type: 'gz', level: 9 },
      { type: 'lz4', level: 1 },
    ]);
    expect(settingsByRepo({ PGSTASH_REPO1_COMPRESS_TYPE: 'zst', PGSTASH_REPO1_COMPRESS_LEVEL: '7' })).toEqual(
      [
        { type: 'zst', level: 7 },
        { type: 'gz', level: 9 },
      ],
    );
    expect(settingsByRepo({ PGSTASH_REPO2_COMPRESS_TYPE: 'none' })[1]).toMatchObject({ type: 'none' });
  });

  it('refuses a repository level outside the range of its own type', () => {
    expect(() =>
      settingsByRepo({ PGSTASH_REPO2_COMPRESS_TYPE: 'gz', PGSTASH_REPO2_COMPRESS_LEVEL: '15' }),
    ).toThrow(/repo2-compress-level/);
  });
});
