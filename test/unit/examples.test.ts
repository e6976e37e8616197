// The example config in examples/ parses with the real loader and means what its comments say.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { REPO_ROOT } from '../harness/pgstash.js';

const CONFIG = join(REPO_ROOT, 'examples', 'pgstash.conf');

describe('examples/pgstash.conf', () => {
  it('configures an encrypted repository and the main stanza for backup', () => {
    const config = loadConfig([`--config=${CONFIG}`, '--stanza=main', 'backup'], {});
    expect(config.warnings.filter((warning) => !/group or others have access to it/.test(warning))).toEqual(
      [],
    );
    expect(config.repos).toHaveLength(1);
    expect(config.repos[0]).toMatchObject({ index: 1, path: '/var/lib/pgstash', cipherType: 'aes-256-gcm' });
    expect(config.repos[0]?.cipherPass?.length).toBeGreaterThan(40);
    expect(config.pg.path).toBe('/var/lib/postgresql/15/main');
    expect(config.get('start-fast')).toBe(true);
    expect(config.get('compress-type')).toBe('zst');
    expect(config.get('process-max')).toBe(2);
  });

  it('keeps archive-push quiet on the console', () => {
    const config = loadConfig(
      [`--config=${CONFIG}`, '--stanza=main', 'archive-push', 'pg_wal/000000010000000000000001'],
      {},
    );
    expect(config.get('log-level-console')).toBe('warn');
    expect(config.get('log-level-file')).toBe('detail');
  });
});
