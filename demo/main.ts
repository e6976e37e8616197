// `npm run demo`: the whole PITR story on a throwaway cluster — archive, back up, lose a table, restore, recover.
import { join } from 'node:path';
import { PgCluster } from '../test/harness/cluster.js';
import { pgstashCommandLine, runPgstash } from '../test/harness/pgstash.js';
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

async function main(): Promise<void> {
  const clusters: PgCluster[] = [];
  try {
    step('Create a throwaway PostgreSQL 15 cluster that archives its WAL with pgstash');
    const dir = await createTempDir({ label: 'demo' });
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
          'repo1-path': join(dir, 'repo'),
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
    say(`repository     ${join(dir, 'repo')}`);
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
