// restore_command: what restore passes on to archive-get, and what it keeps for its own run.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { restoreCommandLine } from '../../../../src/command/restore/restore-command.js';
import { loadConfig } from '../../../../src/config/load.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTempDir, removeTempDir } from '../../../harness/tmp.js';

function commandLine(argv: string[], env: Record<string, string> = {}): string {
  const config = loadConfig(['--no-config', ...argv], env);
  return restoreCommandLine(
    { config, out: () => undefined, signal: new AbortController().signal, executable: ['/usr/bin/pgstash'] },
    'main',
    7216712345678901234n,
  );
}

describe('restore_command', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("leaves out restore's own log levels and parallelism, keeps what finds and reads the repository", () => {
    const line = commandLine(
      [
        '--stanza=main',
        '--repo1-path=/repo one',
        '--pg1-path=/restored',
        '--log-level-console=info',
        '--log-level-stderr=warn',
        '--log-level-file=debug',
        '--log-path=/var/log/mine',
        '--process-max=8',
        '--lock-path=/run/pgstash',
        'restore',
        '--type=immediate',
      ],
      { PGSTASH_REPO2_PATH: '/env/repo2' },
    );
    expect(line).toBe(
      "/usr/bin/pgstash --no-config --lock-path=/run/pgstash --log-path=/var/log/mine '--repo1-path=/repo one' " +
        '--repo2-path=/env/repo2 --pg1-path=/restored --stanza=main archive-get %f "%p"',
    );
    expect(line).not.toMatch(/log-level|process-max|--type/);
  });

  it("with archive-async, first moves the segment out of this cluster's spool, then runs pgstash with exec", () => {
    // archive-get reads them from the environment PostgreSQL runs it in: restore sees its own.
    vi.stubEnv('PGSTASH_ARCHIVE_ASYNC', 'y');
    vi.stubEnv('PGSTASH_SPOOL_PATH', "/var/spool/it's 100%");
    const line = commandLine(['--stanza=main', '--repo1-path=/repo', '--pg1-path=/restored', 'restore']);
    expect(line).toBe(
      "mv '/var/spool/it'\\''s 100%%/archive/main/in/7216712345678901234'/%f \"%p\" 2>/dev/null || " +
        'exec /usr/bin/pgstash --no-config --repo1-path=/repo --pg1-path=/restored --stanza=main archive-get %f "%p"',
    );
  });

  it('takes archive-async and spool-path as archive-get resolves them, from its own config section', async () => {
    const dir = await createTempDir();
    try {
      const line = async (sections: string): Promise<string> => {
        const configPath = join(dir, 'pgstash.conf');
        await writeFile(
          configPath,
          `[global]\nrepo1-path=/repo\nspool-path=/spool\n[main]\npg1-path=/pg\n${sections}`,
        );
        return restoreCommandLine(
          {
            config: loadConfig([`--config=${configPath}`, '--stanza=main', 'restore'], {}),
            out: () => undefined,
            signal: new AbortController().signal,
            executable: ['/usr/bin/pgstash'],
          },
          'main',
          1n,
        );
      };
      expect(await line('[main:archive-get]\narchive-async=y\n')).toMatch(
        /^mv \/spool\/archive\/main\/in\/1\/%f "%p" 2>\/dev\/null \|\| exec \/usr\/bin\/pgstash /,
      );
      // On for archive-push alone: archive-get does not prefetch, there is no spool to look in.
      expect(await line('[main:archive-push]\narchive-async=y\n')).toMatch(/^\/usr\/bin\/pgstash /);
    } finally {
      await removeTempDir(dir);
    }
  });

  it('leaves the move out for a spool path a setting cannot hold (a line break)', () => {
    vi.stubEnv('PGSTASH_ARCHIVE_ASYNC', 'y');
    vi.stubEnv('PGSTASH_SPOOL_PATH', '/var/spool/two\nlines');
    const line = commandLine(['--stanza=main', '--repo1-path=/repo', '--pg1-path=/restored', 'restore']);
    expect(line).toBe(
      '/usr/bin/pgstash --no-config --repo1-path=/repo --pg1-path=/restored --stanza=main archive-get %f "%p"',
    );
  });

  it('without archive-async, runs pgstash alone', () => {
    vi.stubEnv('PGSTASH_SPOOL_PATH', '/spool');
    const line = commandLine(['--stanza=main', '--repo1-path=/repo', '--pg1-path=/restored', 'restore']);
    expect(line).toBe(
      '/usr/bin/pgstash --no-config --repo1-path=/repo --pg1-path=/restored --stanza=main archive-get %f "%p"',
    );
  });
});
