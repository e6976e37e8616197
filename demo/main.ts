// `npm run demo`: the whole PITR story on a throwaway cluster — archive, back up, lose a table, restore, recover.
// `npm run demo -- --repo=s3` tells it with the repository in a bucket of a local S3 server (versitygw, over TLS).
import { join } from 'node:path';
import { PgCluster } from '../test/harness/cluster.js';
import { pgstashCommandLine, runPgstash } from '../test/harness/pgstash.js';
import {
  s3RepoLines,
  s3ServerAvailable,
  startS3Server,
  type S3TestServer,
} from '../test/harness/s3-server.js';
import { configText, writeConfig } from '../test/harness/stanza.js';
import { createTempDir, removeAllTempDirs } from '../test/harness/tmp.js';
import { switchWal, waitArchived } from '../test/harness/wal.js';

let stepNo = 0;
function step(title: string): void {
  stepNo++;
  process.stdout.write(`\n\x1b[1m== ${stepNo}. ${title}\x1b[0m\n`);
}

function say(text: string): void {
  process.stdout.write(`   ${text.replaceAll('\n', '\n   ')}\n`);
}

async function pgstash(configPath: string, args: readonly string[]): Promise<string> {
  say(`$ pgstash ${args.join(' ')}`);
  const result = await runPgstash([`--config=${configPath}`, ...args], { as: 'postgres' });
  const output = `${result.stdout}${result.stderr}`.trim();
  if (output !== '') say(output);
  if (result.code !== 0)
    throw new Error(`pgstash ${args.join(' ')} failed with exit code ${String(result.code)}`);
  return result.stdout;
}

async function sql(cluster: PgCluster, text: string): Promise<string> {
  say(`sql> ${text}`);
  const out = await cluster.psql(text);
  if (out !== '') say(out);
  return out;
}

/** Where the demo keeps its repository: `--repo=posix` (the default, a local directory) or `--repo=s3`. */
function repoKind(argv: readonly string[]): 'posix' | 's3' {
  const value = argv.find((arg) => arg.startsWith('--repo='))?.slice('--repo='.length) ?? 'posix';
  const unknown = argv.filter((arg) => !arg.startsWith('--repo='));
  if ((value !== 'posix' && value !== 's3') || unknown.length > 0) {
    throw new Error(`usage: npm run demo [-- --repo=posix|s3] (got '${argv.join(' ')}')`);
  }
  return value;
}

async function main(): Promise<void> {
  const kind = repoKind(process.argv.slice(2));
  const clusters: PgCluster[] = [];
  let server: S3TestServer | undefined;
  try {
    let repo: Record<string, string>;
    const dir = await createTempDir({ label: 'demo' });
    if (kind === 's3') {
      step('Start a local S3 server (versitygw, TLS with a certificate of its own) for the repository');
      if (!s3ServerAvailable('versitygw'))
        throw new Error('versitygw is not installed: run .ci/test-servers.sh (it builds the test servers)');
      server = await startS3Server('versitygw');
      const bucket = await server.createBucket('demo');
      repo = s3RepoLines(server, bucket, { endpoint: 'localhost' });
      say(`bucket ${bucket} on https://${server.endpoint}`);
    } else {
      repo = { 'repo1-path': join(dir, 'repo') };
    }
    step('Create a throwaway PostgreSQL 15 cluster that archives its WAL with pgstash');
    const configPath = join(dir, 'pgstash.conf');
    const source = await PgCluster.create({
      settings: {
        archive_mode: 'on',
        archive_command: `${pgstashCommandLine(configPath)} --stanza=demo archive-push %p`,
      },
    });
    clusters.push(source);
    await writeConfig(
      configPath,
      configText({
        global: {
          ...repo,
          'log-path': join(dir, 'log'),
          'lock-path': join(dir, 'lock'),
          'process-max': '2',
          'start-fast': 'y',
        },
        demo: {
          'pg1-path': source.dataDir,
          'pg1-socket-path': source.socketDir,
          'pg1-port': String(source.port),
        },
      }),
    );
    await source.start();
    say(`data directory ${source.dataDir}, port ${source.port}`);
    say(
      `repository     ${repo['repo1-path'] ?? ''}${kind === 's3' ? ` in bucket ${repo['repo1-s3-bucket'] ?? ''}` : ''}`,
    );
    say(`archive_command = '... --stanza=demo archive-push %p'`);

    step('Create the stanza and check that archiving works');
    await pgstash(configPath, ['--stanza=demo', 'stanza-create']);
    await pgstash(configPath, ['--stanza=demo', 'check']);

    step('Create some data');
    await sql(source, 'create table orders (id int primary key, customer text, amount numeric)');
    await sql(
      source,
      "insert into orders select g, 'customer ' || g, g * 1.5 from generate_series(1, 1000) g",
    );

    step('Take a full backup');
    await pgstash(configPath, ['--stanza=demo', 'backup', '--type=full']);

    step('More business happens, then a restore point is made');
    await sql(
      source,
      "insert into orders select g, 'customer ' || g, g * 1.5 from generate_series(1001, 1500) g",
    );
    await sql(source, "select pg_create_restore_point('before_accident')");

    step('The accident: someone drops the table');
    await sql(source, 'drop table orders');
    const last = await switchWal({ cluster: source });
    await waitArchived({ cluster: source }, last);
    say(`(WAL up to ${last} is in the archive)`);

    step('pgstash info lists the backup and the archived WAL');
    await pgstash(configPath, ['--stanza=demo', 'info']);

    step("Restore to the restore point 'before_accident' into a new directory");
    const restoreDir = join(await createTempDir({ label: 'demo-restore' }), 'data');
    await pgstash(configPath, [
      '--stanza=demo',
      'restore',
      `--pg1-path=${restoreDir}`,
      '--type=name',
      '--target=before_accident',
      '--target-action=promote',
      // A copy next to the original must not push its WAL (a new timeline, once promoted) into the same stanza.
      '--archive-mode=off',
    ]);

    step('Start the restored cluster on another port: the table is back');
    const restored = await PgCluster.fromDataDir(restoreDir);
    clusters.push(restored);
    await restored.start();
    await restored.waitForRecoveryEnd();
    say(`restored server on port ${restored.port}`);
    const count = await sql(restored, 'select count(*) from orders');
    if (count !== '1500') throw new Error(`expected 1500 orders after the restore, found ${count}`);
    say('\x1b[32mall 1500 orders are back: the table was recovered to just before the accident\x1b[0m');
  } finally {
    step('Clean up');
    for (const cluster of clusters.reverse()) await cluster.destroy().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await removeAllTempDirs();
    say('servers stopped, temp directories removed');
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
