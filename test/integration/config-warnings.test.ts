// The CLI shows the config file's warnings, also when the configuration then fails (no server needed).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPgstash } from '../harness/pgstash.js';
import { configText, writeConfig } from '../harness/stanza.js';
import { createTempDir, removeTempDir } from '../harness/tmp.js';

describe('config file warnings on the console', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await createTempDir({ label: 'config-warnings', owner: 'root' });
  });

  afterAll(async () => {
    await removeTempDir(dir);
  });

  it('a stanza option in [global] is warned about, naming option, file and section, before the error it causes', async () => {
    const configPath = join(dir, 'global-pg-path.conf');
    await writeConfig(
      configPath,
      configText({
        global: {
          'repo1-path': join(dir, 'repo'),
          'pg1-path': join(dir, 'pg'),
          'log-path': join(dir, 'log'),
          'lock-path': join(dir, 'lock'),
        },
      }),
    );
    const result = await runPgstash([`--config=${configPath}`, '--stanza=main', 'backup']);
    expect(result.code).toBe(37);
    expect(result.stderr).toContain(
      `WARN: config file '${configPath}' contains stanza-only option 'pg1-path' in global section [global]: ` +
        'it is ignored',
    );
    expect(result.stderr).toMatch(/ERROR: \[037\]: pg1-path option required/);
    // The warning comes first: it is the cause of the error.
    expect(result.stderr.indexOf('WARN:')).toBeLessThan(result.stderr.indexOf('ERROR:'));
  });
});
