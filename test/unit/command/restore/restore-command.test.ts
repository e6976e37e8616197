// restore_command: what restore passes on to archive-get, and what it keeps for its own run.
import { describe, expect, it } from 'vitest';
import { restoreCommandLine } from '../../../../src/command/restore/index.js';
import { loadConfig } from '../../../../src/config/load.js';

function commandLine(argv: string[], env: Record<string, string> = {}): string {
  const config = loadConfig(['--no-config', ...argv], env);
  return restoreCommandLine(
    { config, out: () => undefined, signal: new AbortController().signal, executable: ['/usr/bin/pgstash'] },
    'main',
  );
}

describe('restore_command', () => {
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
});
